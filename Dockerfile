# Federation Lab, production image: gunicorn via `fedlab serve`, as a non-root user.
#   docker build -t federation-lab .
#   docker run -p 8000:8000 -e FEDLAB_CONFIG=/config/site.toml -v $PWD/site:/config:ro \
#     -e FEDLAB_SECRET_KEY=... -e FEDLAB_SESSION__ENCRYPTION_KEY=... \
#     -e FEDLAB_SESSION__TYPE=redis -e FEDLAB_SESSION__REDIS_URL=rediss://... \
#     federation-lab
# The image holds no configuration: `fedlab serve` refuses to start until
# FEDLAB_CONFIG names yours (the demo's, with its local stand-ins, is not here).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the wheel is built from (see .dockerignore): no tests, no stand-in data.
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY templates ./templates
COPY static ./static
COPY deploy ./deploy
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fedlab \
    && mkdir -p /app/instance/sessions \
    && chown -R fedlab /app/instance

USER fedlab
EXPOSE 8000
# Liveness only (no outbound call, no session): /readyz is for the load balancer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["fedlab", "serve"]
