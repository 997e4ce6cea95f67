"""Settings for the HMS-ACH portal, read from the environment only (see `.env.example`).

Defaults give the embedded set-up: SQLite, tasks run in-process, local-memory cache.
With `DEBUG` off, the values production needs have no default and their absence stops
start-up with a message that names them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import environ
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG: bool = env.bool("DEBUG", default=False)
TESTING: bool = "pytest" in sys.modules or env.bool("HMS_TESTING", default=False)


def _required(name: str) -> str:
    """Return a production-only variable, or stop start-up naming what is missing."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DEBUG is off (see .env.example and the README)."
        )
    return value


if DEBUG or TESTING:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-" + "x" * 40)
    ALLOWED_HOSTS: list[str] = env.list(
        "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"]
    )
else:
    SECRET_KEY = _required("SECRET_KEY")
    ALLOWED_HOSTS = [h for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]

# Retired secret keys, newest first: sessions, password-reset links and signed values made
# with them stay valid during a rotation (docs/operations.md).
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # unfold and its contrib apps come before django.contrib.admin, guardian and simple_history.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
    "unfold.contrib.guardian",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "simple_history",
    "django_fsm",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    # Ours, lowest layer first.
    "core",
    "ledger",
    "governance",
    "allocations",
    "service_requests",
    "participants",
    "exchange",
    "integrations",
    "oversight",
    "hms_portal",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before host checks, HTTPS redirects and sessions.
    "hms_portal.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (hms_portal/headers.py).
    "hms_portal.headers.PortalCSPMiddleware",
    "hms_portal.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Dynamic pages gzip-compressed, except those showing a one-time secret (core/compression.py).
    # Below WhiteNoise, which serves its own precompressed static files.
    "core.compression.PortalGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything parses a body: DRF's JSON parser recurses once per level.
    "hms_portal.middleware.JsonDepthLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff sessions: idle and absolute limits, then a second factor before any staff page.
    "core.authn.middleware.StaffSessionLimitMiddleware",
    "core.authn.middleware.StaffMfaMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A broken ledger chain met on the write path answers 503, not 500.
    "hms_portal.middleware.LedgerIntegrityMiddleware",
]

ROOT_URLCONF = "hms_portal.urls"
WSGI_APPLICATION = "hms_portal.wsgi.application"

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
                "django.template.context_processors.i18n",
                "hms_portal.context_processors.portal",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Milliseconds a PostgreSQL statement may run before the server cancels it; 0: no limit.
HMS_DB_STATEMENT_TIMEOUT_MS: int = env.int("HMS_DB_STATEMENT_TIMEOUT_MS", default=30_000)
if HMS_DB_STATEMENT_TIMEOUT_MS < 0:
    raise ImproperlyConfigured(
        "HMS_DB_STATEMENT_TIMEOUT_MS is a number of milliseconds, 0 or more."
    )
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite ignores select_for_update(); IMMEDIATE transactions make writers queue instead of
    # failing with "database is locked" halfway through a service.
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    # Persistent connections with health checks: measured 2-4x on database-bound pages.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
if _db["ENGINE"] == "django.db.backends.postgresql":
    # A database that stops answering fails a request in seconds instead of holding a web
    # worker: a connection attempt gives up after 5 s (unless DATABASE_URL names its own
    # `connect_timeout`), and, in the web server's processes (`hms_portal.wsgi` marks them), a
    # statement after HMS_DB_STATEMENT_TIMEOUT_MS. Commands, migrations and Celery tasks (a
    # round committing 100,000 claims, `verify_ledger` on a large ledger) run without it.
    _options = _db.setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", 5)
    if HMS_DB_STATEMENT_TIMEOUT_MS and os.environ.get("HMS_PROCESS") == "web":
        _options["options"] = " ".join(
            filter(
                None,
                [_options.get("options"), f"-c statement_timeout={HMS_DB_STATEMENT_TIMEOUT_MS}"],
            )
        )
_db["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ------------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")

# Parallel test processes each have a database of their own, so each gets its own cache keys.
_CACHE_PREFIX = env.str("CACHE_KEY_PREFIX", default="hms")
if TESTING and os.environ.get("PYTEST_XDIST_WORKER"):
    _CACHE_PREFIX += "-" + os.environ["PYTEST_XDIST_WORKER"]

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "hms_portal.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _CACHE_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions live in the database only: signing in never depends on Redis (hms_portal.cache
# answers from memory while Redis is away, which would lose a session kept there).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# The page layout's fixed fragments ({% cache ... using="layout" %} in base.html): derived
# from the templates, settings and language only, so each process keeps its own copy in memory.
CACHES["layout"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "hms-layout",
    "TIMEOUT": 3600,
}
# Rendered parts of a civilian's request page, keyed by a version of everything they show
# (service_requests.views._page_version), so each process keeps its own copy in memory too.
CACHES["pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "hms-pages",
    "TIMEOUT": 600,
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without Redis, tasks run in-process. Under pytest they run in-process too, unless a test
# (tests/integration) switches to the real broker and starts a real worker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A request must not hang on an unreachable broker: the outbox sends the notification later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# Each worker's outbox drainer (hms_portal.outbox) sweeps the outboxes this often.
HMS_OUTBOX_SWEEP_SECONDS: float = env.float("HMS_OUTBOX_SWEEP_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "flush-notification-outbox": {
        "task": "service_requests.tasks.flush_notification_outbox",
        "schedule": env.int("HMS_OUTBOX_FLUSH_SECONDS", default=60),
    },
    "purge-stale-drafts": {
        "task": "service_requests.tasks.purge_stale_drafts",
        "schedule": 3600,
    },
    "begin-absences": {
        "task": "service_requests.tasks.begin_absences",
        "schedule": 3600,
    },
    "void-expired-pending-transfers": {
        "task": "ledger.tasks.void_expired_pending",
        "schedule": 60,
    },
    "write-ledger-checkpoint": {
        "task": "ledger.tasks.write_checkpoint",
        "schedule": 3600,
    },
    "governance-sync-delegations": {
        "task": "governance.tasks.sync_delegations",
        "schedule": 60,
    },
    "governance-escalate-overdue": {
        "task": "governance.tasks.escalate_overdue",
        "schedule": 300,
    },
    "flush-webhook-outbox": {
        "task": "integrations.tasks.flush_webhook_outbox",
        "schedule": env.int("HMS_WEBHOOK_FLUSH_SECONDS", default=60),
    },
    "oversight-mark-breaches": {
        "task": "oversight.tasks.mark_breaches",
        "schedule": env.int("HMS_OVERSIGHT_BREACH_SECONDS", default=300),
    },
    "clear-expired-oauth-tokens": {
        "task": "integrations.tasks.clear_expired_tokens",
        "schedule": 86400,
    },
}

# --- Authentication ------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[HMS] "
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "service_requests:list"
LOGOUT_REDIRECT_URL = "home"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "HMS-ACH portal"
# Security keys and passkeys (WebAuthn) need a secure context: HTTPS, or localhost in DEBUG.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Failed sign-ins: per address, then per address and account together (core.authn.adapter),
# so nobody failing from one address can keep an account's owner out from another.
ACCOUNT_ADAPTER = "core.authn.adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# A password or second factor entered this recently covers a sensitive action (seconds).
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("HMS_REAUTHENTICATION_SECONDS", default=300)
# Staff sessions end after this long without a request, and this long after sign-in.
HMS_STAFF_SESSION_IDLE_SECONDS: int = env.int("HMS_STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
HMS_STAFF_SESSION_MAX_SECONDS: int = env.int("HMS_STAFF_SESSION_MAX_SECONDS", default=12 * 3600)
if not 0 < HMS_STAFF_SESSION_IDLE_SECONDS <= HMS_STAFF_SESSION_MAX_SECONDS:
    raise ImproperlyConfigured(
        "HMS_STAFF_SESSION_IDLE_SECONDS must be above 0 and at most HMS_STAFF_SESSION_MAX_SECONDS."
    )
# Approving a case above this amount (minor units) asks for a recent password or second factor.
HMS_GOVERNANCE_REAUTHENTICATE_ABOVE_MINOR: int = env.int(
    "HMS_GOVERNANCE_REAUTHENTICATE_ABOVE_MINOR", default=1_000_000
)
ANONYMOUS_USER_NAME = "AnonymousUser"
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Email ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
globals().update(EMAIL_CONFIG)
if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="HMS Bureau <no-reply@hms.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
# The bureau's business calendar (oversight/conf.py): its time zone (empty: TIME_ZONE),
# working weekdays (0 = Monday) and hours; public holidays are edited in the admin.
HMS_OVERSIGHT_TIME_ZONE = env.str("HMS_OVERSIGHT_TIME_ZONE", default="")
HMS_OVERSIGHT_WORKDAYS = env.list("HMS_OVERSIGHT_WORKDAYS", cast=int, default=[0, 1, 2, 3, 4])
HMS_OVERSIGHT_OPENS = env.str("HMS_OVERSIGHT_OPENS", default="09:00")
HMS_OVERSIGHT_CLOSES = env.str("HMS_OVERSIGHT_CLOSES", default="17:00")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Civilians' attachments: outside MEDIA_ROOT, served only through the request's own view.
HMS_REQUESTS_ATTACHMENTS_ROOT = env.str("HMS_REQUESTS_ATTACHMENTS_ROOT", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production) -----------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG and not TESTING)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): scripts and styles from the portal's own static files
# only; an inline script needs `nonce="{{ request.csp_nonce }}"`. docs/security.md explains it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
# The unfold admin's widening of that policy (hms_portal/headers.py says why), under this prefix.
HMS_CSP_ADMIN_PREFIX = "/admin/"
HMS_CSP_ADMIN_UPDATE = {
    "script-src": [csp.UNSAFE_EVAL],
    "style-src": [csp.UNSAFE_INLINE],
}
HMS_PERMISSIONS_POLICY: dict[str, list[str]] = {
    "camera": [],
    "microphone": [],
    "geolocation": [],
    "payment": [],
    "usb": [],
    "publickey-credentials-get": ["self"],
    "publickey-credentials-create": ["self"],
}
SESSION_COOKIE_HTTPONLY = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Logging -------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- API (DRF) ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Systems: OAuth 2.0 client credentials, acting for the client's configured user.
        "integrations.oauth.ClientCredentialsAuthentication",
        # People: the ledger's per-user tokens, and the session (CSRF checked).
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # `HasScope` refuses an OAuth client a method its token's scopes do not cover.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # Per OAuth client (its own rate, set in the admin, wins) and per person.
        "client": env.str("HMS_API_CLIENT_RATE", default="600/min"),
        "user": env.str("HMS_API_USER_RATE", default="6000/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "hms_portal.api_schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}

# --- OAuth 2.0 for systems (django-oauth-toolkit) -----------------------------------------
OAUTH2_PROVIDER = {
    "SCOPES": {
        "requests:read": "Read service types and requests (no personal data)",
        "requests:write": "File requests and take the steps the acting user may take",
        "requests:pii": "See requests' personal data: descriptions, names and contact details",
        "cases:read": "Read approval cases",
        "cases:decide": "Decide approval cases (for a person who holds the authority)",
        "funds:read": "Read funds and allocation rounds",
        "ledger:read": "Read ledger accounts and transfers",
        "ledger:write": "Post ledger transfers",
        "webhooks:manage": "Manage the client's own webhook subscriptions",
        "outcomes:read": "Read the bureau's outcome figures (aggregates, no personal data)",
    },
    "DEFAULT_SCOPES": [],
    # Each client gets at most the scopes granted to it in the admin (integrations.ApiClient).
    "SCOPES_BACKEND_CLASS": "integrations.oauth.ClientScopes",
    "OAUTH2_VALIDATOR_CLASS": "integrations.oauth.ClientValidator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("HMS_API_TOKEN_SECONDS", default=3600),
    # RFC 9700: no implicit or password grant, PKCE (S256) required, tokens only in the
    # Authorization header and hashed at rest, https redirects, refresh-token reuse detection.
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
# Not swapped; named so migrations referring to the client model resolve it.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
SPECTACULAR_SETTINGS = {
    "TITLE": "HMS-ACH portal API",
    "DESCRIPTION": "Token-authenticated API of the HMS-ACH portal.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's assets come from the sidecar package, served by us: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- The portal ----------------------------------------------------------------------------
HMS_BUREAU_NAME: str = env.str(
    "HMS_BUREAU_NAME", default="Bureau of Housing and Municipal Services"
)
HMS_DEFAULT_CURRENCY = "USD"
# HMAC key signing the daily ledger checkpoints (auditors check exports with it).
HMS_LEDGER_CHECKPOINT_KEY: str = (
    env.str("HMS_LEDGER_CHECKPOINT_KEY", default="insecure-development-checkpoint-key")
    if DEBUG or TESTING
    else _required("HMS_LEDGER_CHECKPOINT_KEY")
)
# Retired checkpoint keys, newest first: checkpoints they signed stay checkable after a rotation
# (docs/operations.md); new checkpoints are signed with HMS_LEDGER_CHECKPOINT_KEY only.
HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS: list[str] = env.list(
    "HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS", default=[]
)
# Participants' own transfers from /portfolio/: above this amount (minor units) a transfer
# waits for approval under the named program's policy; no program: such transfers are refused.
HMS_LEDGER_PARTICIPANT_APPROVAL_ABOVE_MINOR: int = env.int(
    "HMS_LEDGER_PARTICIPANT_APPROVAL_ABOVE_MINOR", default=100_000
)
HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM: str = env.str(
    "HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM", default=""
)

# --- Admin (unfold) ------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "HMS-ACH staff",
    "SITE_HEADER": "HMS-ACH portal",
    "SITE_SYMBOL": "account_balance",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    # The changelists' cell styling, given once per table (core/templatetags/portal_list.py).
    "STYLES": [lambda request: static("css/admin-list.css")],
}
