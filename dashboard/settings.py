"""archviz settings: every option comes from the environment, with defaults that need nothing running.

Every variable read here is documented in README.md (a test checks it).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from dashboard.env import (
    cache,
    channel_layer,
    database_from_url,
    env_bool,
    env_choice,
    env_docker_hosts,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_trusted_proxies,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ARCHVIZ_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env_secret("ARCHVIZ_SECRET_KEY")
    if key:
        return key
    # No key configured: make one once and keep it beside the database, readable by its owner only.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("ARCHVIZ_DEBUG", False)
ALLOWED_HOSTS = env_list("ARCHVIZ_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("ARCHVIZ_CSRF_TRUSTED_ORIGINS", [])

# Behind a reverse proxy: only a request whose peer is one of these addresses or networks has its X-Forwarded-For
# (and X-Forwarded-Proto) believed; from anyone else those headers are dropped (archviz.middleware.behind_proxy).
ARCHVIZ_TRUSTED_PROXIES = env_trusted_proxies("ARCHVIZ_TRUSTED_PROXIES")
# Browsers reach the dashboard over HTTPS only (through a TLS proxy: serve itself speaks HTTP): cookies are sent
# over HTTPS only, and HTTPS requests carry HSTS. Whether a request came over HTTPS is known only from a trusted
# proxy's X-Forwarded-Proto, so the HSTS header and the redirect of plain HTTP need ARCHVIZ_TRUSTED_PROXIES too.
ARCHVIZ_HTTPS = env_bool("ARCHVIZ_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ARCHVIZ_HTTPS
_hsts_seconds = env_int("ARCHVIZ_HSTS_SECONDS", 31536000, minimum=0, maximum=63072000)
SECURE_HSTS_SECONDS = _hsts_seconds if ARCHVIZ_HTTPS else 0
if ARCHVIZ_HTTPS and ARCHVIZ_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and scrapers ask each web process directly, over plain HTTP (the webhooks never reach Django).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^api/health$"]
# archviz is one site on one name: whether HSTS covers the domain's other names (includeSubDomains, preload) is the
# domain owner's choice, not this site's.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

# When set (unix:///path, or tcp://HOST:PORT), `serve` also runs the API tap there, in front of DOCKER_HOST's
# socket. TCP needs the three TLS files (the tap's certificate and key, and the CA that signed the certificates of
# the clients it accepts), or, on loopback only, ARCHVIZ_TAP_INSECURE_LOOPBACK.
ARCHVIZ_TAP_SOCKET = env_str("ARCHVIZ_TAP_SOCKET", "")
ARCHVIZ_TAP_TLS_CA = env_str("ARCHVIZ_TAP_TLS_CA", "")
ARCHVIZ_TAP_TLS_CERT = env_str("ARCHVIZ_TAP_TLS_CERT", "")
ARCHVIZ_TAP_TLS_KEY = env_str("ARCHVIZ_TAP_TLS_KEY", "")
# Plain TCP (no TLS) on loopback for the tap: every local user who can reach the port drives the daemon (is root).
ARCHVIZ_TAP_INSECURE_LOOPBACK = env_bool("ARCHVIZ_TAP_INSECURE_LOOPBACK", False)
# Every daemon to watch, comma-separated, each with its own TLS settings: unix:///PATH, tcp://HOST:PORT, or
# tcp://HOST:PORT?tls=DIR (DIR holds ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH; archviz.docker_hosts).
# Unset: the one DOCKER_HOST names (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI reads them).
ARCHVIZ_DOCKER_HOSTS = env_docker_hosts("ARCHVIZ_DOCKER_HOSTS")
# Actions that change the daemon (pulling an image) are offered to logged-in staff users only when this is on.
ARCHVIZ_ALLOW_ACTIONS = env_bool("ARCHVIZ_ALLOW_ACTIONS", False)
# Every page and websocket needs a Django login. `serve` forces this on when it binds off loopback.
ARCHVIZ_REQUIRE_LOGIN = env_bool("ARCHVIZ_REQUIRE_LOGIN", False)
# The login page answers 429 to a client address, or for a user name, that failed this many times in one window of
# ARCHVIZ_LOGIN_WINDOW seconds (archviz.attempts).
ARCHVIZ_LOGIN_ATTEMPTS = env_int("ARCHVIZ_LOGIN_ATTEMPTS", 5, minimum=1, maximum=1000)
ARCHVIZ_LOGIN_WINDOW = env_int("ARCHVIZ_LOGIN_WINDOW", 900, minimum=10, maximum=86400)
# How many of the newest observations a browser receives when it (re)connects.
ARCHVIZ_SNAPSHOT_SIZE = env_int("ARCHVIZ_SNAPSHOT_SIZE", 200, minimum=1, maximum=5000)
ARCHVIZ_SOCKET_LAG_LIMIT = env_int("ARCHVIZ_SOCKET_LAG_LIMIT", 1000, minimum=100, maximum=1_000_000)
# A session file (`manage.py session import`, the import button) is refused past this many bytes or observations.
ARCHVIZ_SESSION_MAX_BYTES = env_int("ARCHVIZ_SESSION_MAX_BYTES", 20 * 1024 * 1024, minimum=1024, maximum=1 << 30)
ARCHVIZ_SESSION_MAX_OBSERVATIONS = env_int("ARCHVIZ_SESSION_MAX_OBSERVATIONS", 100_000, minimum=1,
                                           maximum=10_000_000)
# The bearer token the registry must send with its notifications; without one the webhook refuses everything.
ARCHVIZ_REGISTRY_TOKEN = env_secret("ARCHVIZ_REGISTRY_TOKEN") or ""
# The Authorization header value Harbor's webhook must send (its "Auth Header", verbatim); without one the Harbor
# webhook refuses everything.
ARCHVIZ_HARBOR_AUTH = env_secret("ARCHVIZ_HARBOR_AUTH") or ""
# Registry audit events older than this many days are pruned by `manage.py prune_registry` (0 keeps them all).
ARCHVIZ_REGISTRY_RETENTION_DAYS = env_int("ARCHVIZ_REGISTRY_RETENTION_DAYS", 90, minimum=0, maximum=36500)
# Where `manage.py lab` keeps the lab's daemon, registry and their data.
ARCHVIZ_LAB_DIR = Path(env_str("ARCHVIZ_LAB_DIR", "/tmp/archviz-lab"))
# The loopback port of the lab registry.
ARCHVIZ_LAB_REGISTRY_PORT = env_int("ARCHVIZ_LAB_REGISTRY_PORT", 5000, minimum=1, maximum=65535)
# The loopback port of the lab's second registry, the one that asks for a login.
ARCHVIZ_LAB_AUTH_REGISTRY_PORT = env_int("ARCHVIZ_LAB_AUTH_REGISTRY_PORT", 5001, minimum=1, maximum=65535)
# The loopback port of the lab's distribution 3 registry (when ../shared/bin/registry-v3 is there); 0: none.
ARCHVIZ_LAB_V3_REGISTRY_PORT = env_int("ARCHVIZ_LAB_V3_REGISTRY_PORT", 5002, minimum=0, maximum=65535)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "archviz",
]

MIDDLEWARE = [
    "archviz.middleware.behind_proxy",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "archviz.middleware.require_login",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "live"
LOGOUT_REDIRECT_URL = "live"
# A refused CSRF check is said in JSON to the pages' scripts (/api/…), as their other errors are.
CSRF_FAILURE_VIEW = "archviz.csrf.csrf_failure"

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
            ],
        },
    },
]

_database_url = env_secret("DATABASE_URL") or ""
DATABASES = {
    "default": database_from_url(_database_url) if _database_url else sqlite_database(DATA_DIR / "archviz.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = env_str("REDIS_URL", "")
CHANNEL_LAYERS = {"default": channel_layer(_redis_url)}
# The cache holds the login page's counts of failed attempts: in Redis when there is one, so that every web process
# counts the same; otherwise in this process (the embedded mode serves from one process).
CACHES = {"default": cache(_redis_url)}

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"archviz": {"handlers": ["console"], "level": env_choice(
        "ARCHVIZ_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
    )}},
}
