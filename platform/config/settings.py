"""Slipway's one settings module, driven by environment variables.

Every value has a development default that works on one machine with
PostgreSQL and Redis on localhost. Production sets the environment.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PLATFORM_DIR = BASE_DIR / "platform"

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "accounts",
    "projects",
    "intents",
    "runs",
    "reviews",
    "dashboard",
    "evals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.teams",
            ],
            "builtins": ["config.templatetags.slipway", "template_partials.templatetags.partials"],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/slipway"),
        conn_max_age=0,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_PREFIX", "slipway"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env_str("CHANNEL_PREFIX", "slipway:asgi"),
            "capacity": 2000,
            "expiry": 30,
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# A request body larger than this is refused before a view sees it; the
# forms have their own, smaller, per-field limits with friendlier errors.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"runs.tasks.execute_run": {"queue": "agents"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- Slipway ----------------------------------------------------------------
SLIPWAY_DATA_DIR = Path(env_str("SLIPWAY_DATA_DIR", str(BASE_DIR / "var")))
SLIPWAY_MIRROR_DIR = SLIPWAY_DATA_DIR / "mirrors"
SLIPWAY_WORKSPACE_DIR = SLIPWAY_DATA_DIR / "workspaces"
# Checkouts kept ready per project, so a run adopts one instead of checking out every file.
# Two keep one in reserve while the next is made (a spare is ready about a second after it starts).
SLIPWAY_SPARE_WORKSPACES = env_int("SLIPWAY_SPARE_WORKSPACES", 2)
# Local paths as repository URLs read the worker's own disk: only when an administrator allows it.
SLIPWAY_ALLOW_LOCAL_REPOS = env_bool("SLIPWAY_ALLOW_LOCAL_REPOS", DEBUG)
SLIPWAY_SANDBOX_BACKEND = env_str("SLIPWAY_SANDBOX_BACKEND", "auto")  # auto | docker | bubblewrap
SLIPWAY_SANDBOX_IMAGE = env_str("SLIPWAY_SANDBOX_IMAGE", "slipway-sandbox:latest")
SLIPWAY_SANDBOX_RUNTIME = env_str("SLIPWAY_SANDBOX_RUNTIME", "")  # e.g. runsc
SLIPWAY_MAX_RUN_SECONDS = env_int("SLIPWAY_MAX_RUN_SECONDS", 4 * 3600)
# Keys for secrets at rest: comma-separated Fernet keys, newest first (rotation).
SLIPWAY_ENCRYPTION_KEYS = env_list("SLIPWAY_ENCRYPTION_KEYS", [])
# A default model for a fresh install; teams configure their own in the web app.
SLIPWAY_MODEL_PROVIDER = env_str("SLIPWAY_MODEL_PROVIDER", "openai")
SLIPWAY_MODEL_BASE_URL = env_str("SLIPWAY_MODEL_BASE_URL", "")
SLIPWAY_MODEL_NAME = env_str("SLIPWAY_MODEL_NAME", "")
SLIPWAY_MODEL_API_KEY = env_str("SLIPWAY_MODEL_API_KEY", "")
SLIPWAY_HEARTBEAT_SECONDS = env_float("SLIPWAY_HEARTBEAT_SECONDS", 10.0)

# Redis redelivers a task not acknowledged within this many seconds; it must
# exceed the longest run, or a long run would start twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": SLIPWAY_MAX_RUN_SECONDS + 3600}

# Development serves static files straight from static/; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# How the worker talks to model servers (per request; retries honour Retry-After).
SLIPWAY_MODEL_TIMEOUT = env_float("SLIPWAY_MODEL_TIMEOUT", 120.0)
SLIPWAY_MODEL_RETRIES = env_int("SLIPWAY_MODEL_RETRIES", 4)
SLIPWAY_MODEL_BACKOFF = env_float("SLIPWAY_MODEL_BACKOFF", 1.0)
# A running run whose heartbeat is older than this lost its worker: it is requeued to resume.
SLIPWAY_STALL_SECONDS = env_float("SLIPWAY_STALL_SECONDS", 90.0)
SLIPWAY_MAX_RESUMES = env_int("SLIPWAY_MAX_RESUMES", 2)

# /metrics (Prometheus text): a request with `Authorization: Bearer <token>`, or a staff user.
SLIPWAY_METRICS_TOKEN = env_str("SLIPWAY_METRICS_TOKEN", "")
# Dashboard figures over a period are recomputed at most this often per team and filters (0: always).
SLIPWAY_DASHBOARD_CACHE_SECONDS = env_int("SLIPWAY_DASHBOARD_CACHE_SECONDS", 60)
