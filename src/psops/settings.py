"""Settings for psops. Everything that differs between machines comes from the environment."""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BASE_DIR.parent.parent

env = environ.Env()

# Off unless asked for: `make run` and the tests set PSOPS_DEBUG=1; a server never should.
DEBUG = env.bool("PSOPS_DEBUG", default=False)
PRODUCTION = env.bool("PSOPS_PRODUCTION", default=False)
# The key signs sessions and customer links. The development key is public (it is written here), so only a
# development machine (DEBUG on) may fall back to it; anything else refuses to start without a key of its own.
DEVELOPMENT_SECRET_KEY = "psops-development-only-secret-key-change-me-in-production"
SECRET_KEY = env.str("PSOPS_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PSOPS_SECRET_KEY is not set. Set it to a long random value, e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`, kept the same across restarts and "
            "workers; or set PSOPS_DEBUG=1 on a development machine.")
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
# Customer links start with PSOPS_BASE_URL. Unset, a link made while serving a request starts with the address that
# request reached (`PORT=9000 make run` gives working links), and one made elsewhere (a worker) with this default.
_BASE_URL = env.str("PSOPS_BASE_URL", default="").rstrip("/")
_LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
# Production answers only for the host its links name, unless PSOPS_ALLOWED_HOSTS says otherwise.
ALLOWED_HOSTS = env.list("PSOPS_ALLOWED_HOSTS", default=(
    [urlsplit(_BASE_URL).hostname or ""] if _BASE_URL else []) + ([] if PRODUCTION else _LOCAL_HOSTS))
ALLOWED_HOSTS = [host for host in ALLOWED_HOSTS if host]
# Addresses (IPs or CIDRs; `unix` for a Unix socket) of the reverse proxies in front of the app. Only a request from
# one of them has its X-Forwarded-For read (see psops.core.client_address); empty: the peer is the client.
TRUSTED_PROXIES = env.list("PSOPS_TRUSTED_PROXIES", default=[])
SILENCED_SYSTEM_CHECKS = env.list("PSOPS_SILENCED_CHECKS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rules.apps.AutodiscoverRulesConfig",
    "django_tasks",
    "django_tasks_db",
    "django_htmx",
    "template_partials",
    "ninja",
    "psops.core",
    "psops.accounts",
    "psops.activity",
    "psops.links",
    "psops.crm",
    "psops.estimating",
    "psops.approvals",
    "psops.sales",
    "psops.delivery",
    "psops.billing",
    "psops.documents",
    "psops.workflow",
    "psops.portal",
    "psops.web",
    "psops.api",
]

MIDDLEWARE = [
    "psops.core.middleware.ForwardedProtoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "psops.api.middleware.ApiErrorShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "psops.api.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "psops.core.middleware.SecurityHeadersMiddleware",
    "psops.core.middleware.CurrentRequestMiddleware",
]

ROOT_URLCONF = "psops.urls"
WSGI_APPLICATION = "psops.wsgi.application"

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
                "psops.web.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{PROJECT_ROOT / 'psops.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A new connection per request cost six times as much as reusing one.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("PSOPS_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # JIT compilation off for our sessions: the app's queries are short, and PostgreSQL's cost estimate on a large
    # table made it compile them anyway (90 ms of a 400 ms collections query at a million invoices, decision 0013).
    # PSOPS_PG_OPTIONS replaces it (libpq "options", e.g. "-c jit=off -c statement_timeout=30000").
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", env.str("PSOPS_PG_OPTIONS", default="-c jit=off"))
else:
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A transaction takes the write lock as it begins. Otherwise one that reads, then writes (every service) fails
    # at once with "database is locked" when another connection writes meanwhile (the web server, a task worker,
    # its heartbeat), instead of waiting up to the timeout for its turn.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["TEST"] = {"NAME": env.str("PSOPS_SQLITE_TEST_NAME", default="") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
# Dates are written the ISO way everywhere (psops.formats, decision 0016).
FORMAT_MODULE_PATH = ["psops.formats"]
TIME_ZONE = env.str("PSOPS_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = PROJECT_ROOT / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploaded and generated files (documents, templates, the company logo): the filesystem by default; any storage
# backend in production through STORAGES["default"].
MEDIA_ROOT = env.path("PSOPS_MEDIA_ROOT", default=PROJECT_ROOT / "var" / "media")
MEDIA_URL = "/media/"  # never served as such: documents are downloaded through views that check who asks

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Task leases (docs/decisions/0005-task-leases.md): a running task whose worker has not been heard from for this
# many seconds is put back in the queue; after this many workers died running it, it is marked failed instead.
PSOPS_TASK_LEASE_SECONDS = env.int("PSOPS_TASK_LEASE_SECONDS", default=300)
PSOPS_TASK_MAX_ATTEMPTS = env.int("PSOPS_TASK_MAX_ATTEMPTS", default=5)

EMAIL_BACKEND = env.str("PSOPS_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("PSOPS_FROM_EMAIL", default="psops@localhost")
EMAIL_HOST = env.str("PSOPS_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("PSOPS_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("PSOPS_EMAIL_USER", default="")
EMAIL_HOST_PASSWORD = env.str("PSOPS_EMAIL_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("PSOPS_EMAIL_TLS", default=False)

# Production hardening: PSOPS_PRODUCTION=1 (with a real PSOPS_SECRET_KEY) behind HTTPS. `psops check` then fails on
# settings unsafe for production (psops.core.checks).
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("PSOPS_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("PSOPS_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere: everything comes from our own static files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
# Failed logins (kept in the database, so every process sees them) allowed per username and address, and per
# address, within the window before each further attempt waits: DELAY_SECONDS, doubling, at most MAX_DELAY_SECONDS.
LOGIN_THROTTLE = {"ATTEMPTS": 5, "ADDRESS_ATTEMPTS": 20, "DELAY_SECONDS": 15, "MAX_DELAY_SECONDS": 900,
                  "WINDOW_SECONDS": 3600}
# Each process keeps its own cache by default; a fleet may share one: PSOPS_CACHE_URL=dbcache://psops_cache (after
# `psops createcachetable`), so the dashboards' figures are read once per person for every process.
CACHES = {"default": env.cache("PSOPS_CACHE_URL", default="locmemcache://")}
# The dashboards' figures are read from the database at most once in this many seconds per person (0: on every
# view); the page says when they were read and offers to read them anew (decision 0013).
# Webhook receivers on loopback, private, link-local or other non-public addresses: refused unless this is on (a
# development machine has it on, so a receiver on this machine can be tried). A server that must reach a receiver
# on its own network turns it on knowingly (decision 0019).
PSOPS_WEBHOOKS_PRIVATE = env.bool("PSOPS_WEBHOOKS_PRIVATE", default=DEBUG)
PSOPS_DASHBOARD_SECONDS = env.int("PSOPS_DASHBOARD_SECONDS", default=300)
# "Read them anew" reads them at most this often per person: a script asking for fresh figures in a loop costs the
# database one read per 30 seconds, not one per request.
PSOPS_DASHBOARD_FRESH_AFTER = env.int("PSOPS_DASHBOARD_FRESH_AFTER", default=30)

# Business rules that are configuration rather than data.
PSOPS = {
    # Country whose public holidays the business-day calendar starts from; the administrator adds company days.
    "HOLIDAY_COUNTRY": env.str("PSOPS_HOLIDAY_COUNTRY", default="US"),
    "PASSIVE_ACCEPTANCE_BUSINESS_DAYS": 5,
    "DEFAULT_CURRENCY": "USD",
    # Customer links expire after this many days.
    "LINK_DAYS": env.int("PSOPS_LINK_DAYS", default=30),
    "BASE_URL": _BASE_URL or f"http://127.0.0.1:{env.int('PORT', default=8000)}",
    # False: links made while serving a request start with that request's own address instead.
    "BASE_URL_SET": bool(_BASE_URL),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("PSOPS_LOG_LEVEL", default="WARNING")},
}
