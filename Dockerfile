# Music Tracker pipeline image: the cron wrapper (`music-tracker cron serve`) and luigid
# (`music-tracker scheduler`) both run from it. Slim Python, dependencies from the committed
# uv.lock only (`uv sync --frozen --no-dev`), runs as an unprivileged user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    MUSIC_TRACKER_ENV=production

RUN pip install --no-cache-dir uv==0.13.9 \
    && groupadd --gid 1000 app \
    && useradd --uid 1000 --gid app --create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY pipeline ./pipeline
COPY config ./config
COPY dbt_project ./dbt_project
COPY data/sample ./data/sample
COPY luigi.cfg ./luigi.cfg
RUN uv sync --frozen --no-dev \
    && mkdir -p /data /app/dbt_project/target /app/dbt_project/logs \
    && chown -R app:app /data /app/dbt_project

ENV PATH=/app/.venv/bin:$PATH \
    LUIGI_CONFIG_PATH=/app/luigi.cfg

USER app
# dbt's saved parse of the project, made as a build makes it (its paths are the same for every
# lake), so a container's first import or cycle does not parse the whole project again.
RUN music-tracker --data-dir /tmp/parse _parse && rm -rf /tmp/parse
VOLUME ["/data"]

HEALTHCHECK --interval=5m --timeout=60s --start-period=5m --retries=3 \
    CMD ["music-tracker", "status", "--health"]

CMD ["music-tracker", "cron", "serve"]
