# rls: the REST server with row-level security, as a container.
#   docker build -t rls .
#   docker run -p 3000:3000 -e REST_DB_URL_FILE=/run/secrets/db_url ... rls
# Settings come from REST_* environment variables; secrets from REST_<NAME>_FILE files
# (see docs/operations.md). Nothing secret is baked into the image.

# -- build: install rls and its dependencies into a virtual environment ------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/rls
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rls ./rls
COPY dialects ./dialects
RUN /opt/rls/bin/pip install --no-cache-dir .

# -- run: the virtual environment only, as an unprivileged user --------------------------
FROM python:3.11-slim
ENV PATH=/opt/rls/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REST_ADDR=:3000
RUN useradd --system --uid 10001 --user-group --home-dir /home/rls --create-home --shell /usr/sbin/nologin rls
COPY --from=build /opt/rls /opt/rls
USER 10001:10001
WORKDIR /home/rls
EXPOSE 3000
# Liveness under the reserved prefix (a table named "health" cannot shadow it); slim
# images have no curl, so Python asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('REST_ADDR', ':3000').rpartition(':')[2]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/_rls/health', timeout=2).status == 200 else 1)"]
# Admin commands: docker run --rm --entrypoint rest rls auth setup
ENTRYPOINT ["rest", "serve"]
