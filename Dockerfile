# The platform image: web, workers and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ripgrep bubblewrap ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 slipway
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install -r requirements.lock
COPY . .
RUN pip install --no-deps -e . \
    && mkdir -p /app/var && chown -R slipway /app/var \
    && SECRET_KEY=build DEBUG=0 python manage.py collectstatic --noinput -v 0
USER slipway
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--app-dir", "platform", "--host", "0.0.0.0", "--port", "8000"]
