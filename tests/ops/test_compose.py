"""The compose stack and images, checked without a Docker engine.

`docker compose config` is not available here, so the file is validated against the Compose
Specification's JSON schema; what the containers run is run here for real by other tests
(`scheduler`, `cron serve`) and below (the healthcheck).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipeline.cli import build_parser
from pipeline.settings import load_settings
from tests.ops.conftest import REPO, cli_env, run_cli

SCHEMA = Path(__file__).parents[1] / "fixtures" / "compose" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _mib(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)b?", value.lower()).groups()
    return float(number) * {"k": 1 / 1024, "m": 1, "g": 1024, "": 1 / 1048576}[unit]


def test_compose_file_follows_the_compose_specification(compose: dict) -> None:
    """docker-compose.yml validates against the published Compose Specification schema."""
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(compose)
    assert set(compose["services"]) == {"luigid", "pipeline", "metabase"}
    broken = json.loads(json.dumps(compose))
    broken["services"]["pipeline"]["mem_limt"] = "1g"  # a typo the schema must catch
    assert not validator.is_valid(broken)


def test_memory_limits_sum_to_at_most_1_8_gb(compose: dict) -> None:
    """Every service has a memory limit and a restart policy; the limits sum to <= 1.8 GB."""
    limits = {name: _mib(svc["mem_limit"]) for name, svc in compose["services"].items()}
    assert sum(limits.values()) <= 1800, limits
    assert all(svc["restart"] == "unless-stopped" for svc in compose["services"].values())
    heap = re.search(r"-Xmx(\d+)m", compose["services"]["metabase"]["environment"]["JAVA_OPTS"])
    assert heap and int(heap.group(1)) < limits["metabase"] * 0.75


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR:-default}` / `${VAR}` interpolation (the forms this file uses)."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", sub, value)


def _dotenv(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def _container_env(service: dict, dotenv: dict[str, str]) -> dict[str, str]:
    """The environment a container starts with: its env_file(s), then `environment:`."""
    env: dict[str, str] = {}
    files = service.get("env_file") or []
    for entry in [files] if isinstance(files, str) else files:
        path = entry if isinstance(entry, str) else entry["path"]
        assert path == ".env", path
        env.update(dotenv)
    for key, value in (service.get("environment") or {}).items():
        env[key] = _interpolate(str(value), dotenv)
    return env


def test_secrets_reach_only_the_pipeline_and_tz_every_service(compose: dict) -> None:
    """With the documented .env, luigid and Metabase get none of its secrets; TZ is kept.

    A service-level `environment:` replaces the shared mapping rather than extending it (the
    way luigid once lost TZ), so this resolves each container's environment as Compose does.
    """
    dotenv = _dotenv(REPO / ".env.example")
    secrets = {k for k in dotenv if re.search(r"TOKEN|SECRET|PASSWORD|CLIENT|WEBHOOK", k)}
    assert {"MUSIC_TRACKER_WEBHOOK_TOKEN", "MUSIC_TRACKER_METABASE_PASSWORD"} <= secrets
    dotenv["SPOTIFY_CLIENT_SECRET"] = "s3cret"
    secrets.add("SPOTIFY_CLIENT_SECRET")
    envs = {name: _container_env(svc, dotenv) for name, svc in compose["services"].items()}
    assert secrets <= set(envs["pipeline"]), "the pipeline needs the Spotify/webhook secrets"
    for name in ("luigid", "metabase"):
        leaked = secrets & set(envs[name])
        assert not leaked, f"{name} receives {leaked}"
        assert "s3cret" not in envs[name].values()
    for name in ("luigid", "pipeline"):
        assert envs[name]["TZ"] == "UTC"
        assert envs[name]["MUSIC_TRACKER_ENV"] == "production"
        assert _container_env(compose["services"][name], {"TZ": "Europe/Berlin"})["TZ"] == (
            "Europe/Berlin"
        )
    # Metabase's own block: its JVM zone (JAVA_TIMEZONE) or TZ.
    assert {"TZ", "JAVA_TIMEZONE"} & set(envs["metabase"])
    assert envs["luigid"]["MUSIC_TRACKER__SCHEDULER__BIND_ADDRESS"] == "0.0.0.0"
    # .env is optional for the pipeline (an export-only setup has no secrets to give it).
    assert all(
        isinstance(e, dict) and e.get("required") is False
        for e in compose["services"]["pipeline"]["env_file"]
    )


def test_ports_bind_localhost_unless_a_lan_address_is_set(compose: dict) -> None:
    """Every published port is 127.0.0.1 by default; MUSIC_TRACKER_BIND moves them to the LAN."""
    ports = [p for svc in compose["services"].values() for p in svc.get("ports", [])]
    assert len(ports) == 2
    for port in ports:
        assert _interpolate(port, {}).startswith("127.0.0.1:"), port
        lan = _interpolate(port, {"MUSIC_TRACKER_BIND": "192.168.1.10"})
        assert lan.startswith("192.168.1.10:"), port
    assert "MUSIC_TRACKER_BIND" in (REPO / ".env.example").read_text()


def test_pipeline_memory_limit_is_400m(compose: dict) -> None:
    """The pipeline's container budget is 400 MB (issue 11); luigid stays small."""
    assert _mib(compose["services"]["pipeline"]["mem_limit"]) == 400
    assert _mib(compose["services"]["luigid"]["mem_limit"]) <= 192


def test_data_volumes_and_ports(compose: dict) -> None:
    """data/ is shared at /data (read-only for Metabase); luigid on 8082; H2 on a volume."""
    services = compose["services"]
    assert "./data:/data" in services["pipeline"]["volumes"]
    assert "./data:/data" in services["luigid"]["volumes"]
    assert "./data:/data:ro" in services["metabase"]["volumes"]
    assert load_settings(environ={"MUSIC_TRACKER_ENV": "production"}).paths.data_dir == Path(
        "/data"
    )
    assert any(p.endswith(":8082:8082") for p in services["luigid"]["ports"])
    assert any(p.endswith(":3000:3000") for p in services["metabase"]["ports"])
    mb = services["metabase"]
    assert mb["environment"]["MB_DB_FILE"].startswith("/metabase-data/")
    assert "metabase-data:/metabase-data" in mb["volumes"]


def test_metabase_and_driver_versions_are_pinned(compose: dict) -> None:
    """The Metabase image and DuckDB driver are pinned, the same in compose and Dockerfile."""
    mb = compose["services"]["metabase"]
    dockerfile = (REPO / "docker/metabase/Dockerfile").read_text()
    args = mb["build"]["args"]
    assert f"ARG METABASE_VERSION={args['METABASE_VERSION']}" in dockerfile
    assert f"ARG METABASE_DUCKDB_DRIVER_VERSION={args['METABASE_DUCKDB_DRIVER_VERSION']}" in (
        dockerfile
    )
    assert args["METABASE_DUCKDB_DRIVER_VERSION"].startswith("1.5.")
    assert mb["image"].endswith(
        f"{args['METABASE_VERSION']}-duckdb{args['METABASE_DUCKDB_DRIVER_VERSION']}"
    )
    assert "plugins/duckdb.metabase-driver.jar" in dockerfile


def test_container_commands_are_real_cli_commands(compose: dict) -> None:
    """Each service command and the pipeline healthcheck parse as music-tracker commands."""
    parser = build_parser()
    for name in ("luigid", "pipeline"):
        command = compose["services"][name]["command"]
        assert command[0] == "music-tracker"
        parser.parse_args(command[1:])
    health = compose["services"]["pipeline"]["healthcheck"]["test"]
    assert health[:2] == ["CMD", "music-tracker"]
    probe = compose["services"]["luigid"]["healthcheck"]["test"]
    compile(probe[-1], "healthcheck", "exec")


def test_healthcheck_command_exits_zero_on_a_fresh_install(data_dir: Path, compose: dict) -> None:
    """The healthcheck (`music-tracker status`) passes on an empty export-only data folder; with
    polling on it fails until the listener is authorised, naming `music-tracker auth`."""
    health = compose["services"]["pipeline"]["healthcheck"]["test"]
    result = run_cli(health[2:], cli_env(data_dir, MUSIC_TRACKER__SPOTIFY__ENABLED="false"))
    assert result.returncode == 0, result.stdout + result.stderr
    polling = run_cli(health[2:], cli_env(data_dir))
    assert polling.returncode == 1 and "run `music-tracker auth me`" in polling.stdout


def test_dockerfile_is_slim_locked_and_unprivileged() -> None:
    """Slim Python base, `uv sync --frozen --no-dev`, a non-root user, copies what exists."""
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "uv sync --frozen --no-dev" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    for src in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.M):
        for part in src.split():
            assert (REPO / part).exists(), part
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignore and "data/*" in ignore


#: Threads besides Jetty's (c3p0 pools, Quartz, GC, JIT compilers, DuckDB's workers' JVM side).
METABASE_OTHER_THREADS = 50
#: JVM native memory no flag caps (GC card table, symbols, compiler arenas, class loading):
#: Native Memory Tracking shows ~30-50 MB for a SerialGC JVM with a heap of this size.
JVM_UNCAPPED_MIB = 48


def test_metabase_memory_adds_up_inside_its_limit(compose: dict) -> None:
    """Metabase's heap, metaspace, code cache, direct buffers, thread stacks and DuckDB's
    memory_limit (set on the provisioned database) fit its mem_limit, and the stack fits 1.8 GB."""
    from pipeline.settings import MetabaseSettings, memory_bytes

    mb = compose["services"]["metabase"]
    opts = mb["environment"]["JAVA_OPTS"]

    def flag(pattern: str) -> float:
        found = re.search(pattern + r"(\d+[kmg])\b", opts)
        assert found, f"JAVA_OPTS has no {pattern!r}: that pool would be unbounded"
        return _mib(found.group(1))

    heap, metaspace = flag(r"-Xmx"), flag(r"-XX:MaxMetaspaceSize=")
    code_cache, direct = flag(r"-XX:ReservedCodeCacheSize="), flag(r"-XX:MaxDirectMemorySize=")
    stacks = flag(r"-Xss") * (
        int(mb["environment"]["MB_JETTY_MAXTHREADS"]) + METABASE_OTHER_THREADS
    )
    pipeline_env = _container_env(compose["services"]["pipeline"], _dotenv(REPO / ".env.example"))
    section = load_settings(environ=pipeline_env).extra.get("metabase") or {}
    limit = section.get("duckdb_memory_limit", MetabaseSettings.duckdb_memory_limit)
    duckdb_mib = memory_bytes(limit) / 2**20
    needed = heap + metaspace + code_cache + direct + stacks + JVM_UNCAPPED_MIB + duckdb_mib
    assert needed <= _mib(mb["mem_limit"]), (needed, mb["mem_limit"])
    assert duckdb_mib >= 128, "DuckDB needs room for the 1M-play cards"
    total = sum(_mib(svc["mem_limit"]) for svc in compose["services"].values())
    assert total <= 1800 and _mib(compose["services"]["pipeline"]["mem_limit"]) == 400, total
