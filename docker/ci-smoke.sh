#!/usr/bin/env bash
# The image, built and run for real (issue 14): build it, run `music-tracker demo` under
# `docker run -m 400m`, then `docker compose up` luigid + pipeline (Metabase's image downloads
# its jar and cannot be built here) until both are healthy. Prints the kernel's peak memory of
# each container (its cgroup's memory.max_usage_in_bytes) and whether it was OOM-killed.
#
#   docker/ci-smoke.sh                 # needs ../shared/docker/local-engine.sh or a DOCKER_HOST
#
# Exit 0 when everything passed; non-zero with the reason otherwise.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=${MT_LOCAL_ENGINE:-$REPO/../shared/docker/local-engine.sh}
TAG=music-tracker:latest
PROJECT=mt-ci-$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mt-ci-smoke.XXXXXX")
HEALTH_TIMEOUT=${MT_CI_HEALTH_TIMEOUT:-180}

say() { echo "[docker-ci $(date -u +%H:%M:%S)] $*"; }
t0=$(date +%s)
lap() { echo "$(($(date +%s) - t0)) s"; }

# shellcheck source=/dev/null
source "$ENGINE"
cd "$REPO"

cleanup() {
  docker rm -f "$PROJECT-demo" "$PROJECT-import" "$PROJECT-build" >/dev/null 2>&1 || true
  MT_CI_DATA=$WORK/data docker-compose -p "$PROJECT" -f docker-compose.yml \
    -f docker/compose.ci.yml down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
say "engine ready after $(lap)"

docker build -q -t "$TAG" . >/dev/null
say "image $TAG built after $(lap) ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"

# Peak memory of a running container: its memory cgroup's max_usage_in_bytes, read until it
# exits (the group goes with the container; the last reading is within 0.5 s of the end).
peak_while_running() {
  local id=$1 file peak=0
  file=$(ls -d /sys/fs/cgroup/memory/docker/"$id"*/memory.max_usage_in_bytes 2>/dev/null | head -1 || true)
  while [[ $(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null) == true ]]; do
    [[ -n $file && -r $file ]] && peak=$(cat "$file" 2>/dev/null || echo "$peak")
    sleep 0.5
  done
  echo $((peak / 1048576))
}

# 1. The demo inside 400 MB.
demo_start=$(date +%s)
id=$(docker run -d -m 400m --memory-swap 400m --name "$PROJECT-demo" "$TAG" music-tracker demo)
peak=$(peak_while_running "$id")
code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
oom=$(docker inspect -f '{{.State.OOMKilled}}' "$id")
docker logs "$id" 2>/dev/null | sed -n '/^What was built/,$p'
say "demo under -m 400m: exit $code, OOMKilled=$oom, peak ${peak} MiB (cgroup max usage), $(($(date +%s) - demo_start)) s"
if [[ $code != 0 || $oom != false ]]; then
  docker logs "$id" 2>&1 | tail -40
  say "FAILED: music-tracker demo in the image under -m 400m"
  exit 1
fi
# The image's saved parse (Dockerfile: `_parse`) served the container's first build.
parsed=$(docker cp "$id:/app/dbt_project/target/perf_info.json" - 2>/dev/null | tar -xO |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["parsed_path_count"])' || echo "?")
say "dbt files parsed by the demo's first build: $parsed (0: the image's saved parse was used)"
if [[ $parsed != 0 ]]; then
  say "FAILED: the container's first build parsed the dbt project again"
  exit 1
fi
docker rm -f "$id" >/dev/null

# 1b. Optional (MT_CI_HISTORY=folder of export files, e.g. bench/.cache/histories/1M-seed42):
# `music-tracker import` of that history, then a `build` with nothing new, each in its own
# container under -m 400m on one data volume: what a ten-year import does on the NAS.
if [[ -n ${MT_CI_HISTORY:-} ]]; then
  mkdir -p "$WORK/hist-data"
  chown 1000:1000 "$WORK/hist-data" 2>/dev/null || chmod 0777 "$WORK/hist-data"
  for step in import build; do
    args=(music-tracker build)
    [[ $step == import ]] && args=(music-tracker import /history)
    step_start=$(date +%s)
    id=$(docker run -d -m 400m --memory-swap 400m --name "$PROJECT-$step" \
      -v "$(cd "$MT_CI_HISTORY" && pwd):/history:ro" -v "$WORK/hist-data:/data" "$TAG" "${args[@]}")
    peak=$(peak_while_running "$id")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    oom=$(docker inspect -f '{{.State.OOMKilled}}' "$id")
    say "history $step under -m 400m: exit $code, OOMKilled=$oom, peak ${peak} MiB, $(($(date +%s) - step_start)) s"
    if [[ $code != 0 || $oom != false ]]; then
      docker logs "$id" 2>&1 | tail -30
      say "FAILED: history $step in the image under -m 400m"
      exit 1
    fi
    docker rm -f "$id" >/dev/null
  done
fi

# 2. luigid + pipeline from the real docker-compose.yml (Metabase left out), export-only
# (docker/compose.ci.yml: no Spotify app in CI, so polling is switched off).
export_only=yes
probe=$(docker run --rm -e MUSIC_TRACKER__SPOTIFY__ENABLED=false "$TAG" music-tracker status 2>&1 || true)
if grep -q "spotify.enabled: unknown setting" <<<"$probe"; then
  # An image from before `spotify.enabled` (issue 14): its pipeline cannot be healthy without
  # a Spotify token, so only luigid's health and a pipeline that keeps running are checked.
  export_only=no
  say "WARNING: this image has no spotify.enabled setting; the pipeline cannot turn healthy" \
    "without Spotify, so it is only required to stay running"
fi
mkdir -p "$WORK/data"
chown 1000:1000 "$WORK/data" 2>/dev/null || chmod 0777 "$WORK/data"
export MT_CI_DATA=$WORK/data MUSIC_TRACKER_BIND=127.0.0.1
compose() { docker-compose -p "$PROJECT" -f docker-compose.yml -f docker/compose.ci.yml "$@"; }
up_start=$(date +%s)
if [[ $export_only == yes ]]; then
  compose up -d --no-build luigid pipeline
else
  grep -v 'MUSIC_TRACKER__SPOTIFY__ENABLED\|^    environment:$' docker/compose.ci.yml >"$WORK/compose.ci.yml"
  compose() { docker-compose -p "$PROJECT" -f docker-compose.yml -f "$WORK/compose.ci.yml" "$@"; }
  compose up -d --no-build luigid pipeline
fi
state() { docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$1")" 2>/dev/null || echo missing; }
while :; do
  l=$(state luigid) p=$(state pipeline)
  [[ $l == healthy && $p == healthy ]] && break
  if [[ $export_only == no && $l == healthy && $(($(date +%s) - up_start)) -gt 30 ]]; then
    running=$(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "$(compose ps -q pipeline)")
    [[ $running == "true 0" ]] && { say "pipeline running (health: $p, expected without Spotify)"; break; }
  fi
  if [[ $l == unhealthy || ($p == unhealthy && $export_only == yes) || $(($(date +%s) - up_start)) -gt $HEALTH_TIMEOUT ]]; then
    compose ps
    compose logs --tail 40
    docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}' \
      "$(compose ps -q pipeline)" 2>/dev/null | tail -20 || true
    say "FAILED: luigid=$l pipeline=$p after $(($(date +%s) - up_start)) s"
    exit 1
  fi
  sleep 2
done
say "compose: luigid $l, pipeline $p after $(($(date +%s) - up_start)) s"
for svc in luigid pipeline; do
  cid=$(compose ps -q "$svc")
  file=$(ls -d /sys/fs/cgroup/memory/docker/"$cid"*/memory.max_usage_in_bytes 2>/dev/null | head -1 || true)
  limit=$(docker inspect -f '{{.HostConfig.Memory}}' "$cid")
  say "$svc: mem_limit $((limit / 1048576)) MiB, peak so far $(( $(cat "$file" 2>/dev/null || echo 0) / 1048576 )) MiB, TZ=$(docker exec "$cid" printenv TZ)"
done
docker stats --no-stream --format '{{.Name}}: {{.MemUsage}}' $(compose ps -q)
# The pipeline reaches luigid by its service name (what cron runs report to).
compose exec -T pipeline python -c "import urllib.request; urllib.request.urlopen('http://luigid:8082/api/task_list?data={}', timeout=5)"
say "pipeline reaches luigid at http://luigid:8082; total $(lap)"
