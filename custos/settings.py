"""Django settings. Everything a deployment changes comes from CUSTOS_* environment variables.

CUSTOS_DATABASE_URL   database (default: SQLite in WAL mode under CUSTOS_HOME)
CUSTOS_HOME           state directory (default ./var)
CUSTOS_REDIS_URL      task queue on Redis (default: Huey on a SQLite file under CUSTOS_HOME)
CUSTOS_DEBUG          1 for development only
CUSTOS_ALLOWED_HOSTS  comma-separated
"""

import datetime
import json
import os
import secrets
from pathlib import Path

import dj_database_url

from custos import paths

BASE_DIR = Path(__file__).resolve().parent
HOME = paths.home()
HOME.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if os.environ.get("CUSTOS_SECRET_KEY"):
        return os.environ["CUSTOS_SECRET_KEY"]
    try:
        return json.loads(paths.keyring_path().read_text())["django_secret_key"]
    except (OSError, ValueError, KeyError):
        # Not initialised yet (`custos init` writes the keyring): sessions will not survive a restart.
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("CUSTOS_DEBUG") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("CUSTOS_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "custos.book",
    "custos.checks",
    "custos.access",
    "custos.audit",
    "custos.watch",
    "custos.watch.tracing",
    "custos.web",
    "custos.api",
    "custos.extraction",
    "custos.remediation",
    "custos.screening",
    "custos.integrity",
    "custos.commission",
    "custos.report",
    "custos.discipline",
    "custos.partnership",
    "custos.blacklist",
    "custos.identity",
    "custos.spark",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every response but static files: Cache-Control no-store (docs/security.md).
    "custos.web.middleware.NoStoreMiddleware",
    "custos.web.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "custos.web.middleware.ChineseByDefaultLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "custos.access.middleware.RequireOTPMiddleware",
    # Members of the association (custos.blacklist) reach the blacklist look-up and nothing else.
    "custos.blacklist.middleware.ConfineOutsidersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A BadRequest or a value the database cannot hold: a 400 page that says why, not a 500.
    "custos.web.middleware.BadRequestMiddleware",
    # The audit log cannot take a read's or a change's entry: a 503 that says nothing was done.
    "custos.web.middleware.FailClosedMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a locked-out login attempt into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "custos.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The admin in custos' colours and language: admin/base_site.html, ahead of the admin's own.
        "DIRS": [BASE_DIR / "web" / "admin_theme"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "custos.web.context.shell",
            ]
        },
    }
]
WSGI_APPLICATION = "custos.wsgi.application"

_default_db = f"sqlite:///{HOME / 'custos.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("CUSTOS_DATABASE_URL", _default_db), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests on a file, not Django's default shared-cache in-memory database: there, the live
    # server's and the task consumer's threads meet table locks that fail at once ("database
    # table is locked") instead of waiting out busy_timeout as they do on a WAL file.
    DATABASES["default"]["TEST"] = {"NAME": str(HOME / "test-custos.sqlite3")}
# Tests create their own database beside the one CUSTOS_DATABASE_URL names ("test_<name>", with
# pytest-xdist's "_gw0" suffixes) and drop it afterwards; never the connection database itself.
_test_url = os.environ.get("CUSTOS_TEST_DATABASE_URL")
if _test_url:
    DATABASES["default"]["TEST"] = {"NAME": "test_" + dj_database_url.parse(_test_url)["NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

AUTHENTICATION_BACKENDS = [
    # Refuses any password attempt for a locked-out account (django-axes), then the usual check.
    "custos.access.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- sign-in hardening (docs/security.md) ---------------------------------------------------------
# Idle timeout: the session expires after this many seconds without a request (renewed by each one).
SESSION_COOKIE_AGE = int(os.environ.get("CUSTOS_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# Behind TLS (production), set CUSTOS_SECURE_COOKIES=1: cookies only over HTTPS, and HSTS.
_secure = os.environ.get("CUSTOS_SECURE_COOKIES") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _secure
SECURE_HSTS_SECONDS = 31536000 if _secure else 0
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and styles only from custos itself, no inline script.
# Style *attributes* are allowed (a progress bar's width); <style> elements and inline script are not.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Lock-out after repeated failed logins (django-axes): by username *and* address together, so that
# guesses from one address lock that username there only — an attacker elsewhere cannot lock the owner
# out — and one bank outlet's shared address is not locked for its other clerks by one clerk's typos.
# Each lock-out is audited and raises an alert (docs/security.md).
AXES_FAILURE_LIMIT = int(os.environ.get("CUSTOS_LOCKOUT_FAILURES", 5))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=float(os.environ.get("CUSTOS_LOCKOUT_MINUTES", 30)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked.html"
AXES_VERBOSE = False

# The API's schema and documentation (/api/v1/openapi.json, /api/v1/docs) need a signed-in session or
# a bearer token, except in development (CUSTOS_DEBUG=1) or with CUSTOS_API_DOCS_PUBLIC=1.
CUSTOS_API_DOCS_PUBLIC = os.environ.get("CUSTOS_API_DOCS_PUBLIC", "1" if DEBUG else "0") == "1"

# Roles that must sign in with a second factor (TOTP, django-otp): by default the holders of the
# capabilities marked second_factor in custos/access/capabilities.py (unmask, approve extractions,
# keys); CUSTOS_OTP_ROLES=role,role replaces that list.
CUSTOS_OTP_REQUIRED = os.environ.get("CUSTOS_OTP_REQUIRED", "1") == "1"
CUSTOS_OTP_ROLES = frozenset(filter(None, os.environ.get("CUSTOS_OTP_ROLES", "").split(",")))
OTP_TOTP_ISSUER = "custos"
OTP_TOTP_THROTTLE_FACTOR = 0  # custos.access.otp throttles instead: one mistyped code is not a lock-out

# --- unmasking (docs/security.md) -------------------------------------------------------------------
# Which roles may unmask a value (with a stated purpose). A table, so each company sets its own; it
# gives the roles of the capability "unmask" (custos/access/capabilities.py, where every other
# capability's roles are; CUSTOS_CAPABILITIES = {"capability": [roles]} replaces those).
CUSTOS_UNMASK_ROLES = {
    "compliance": True,
    "customer_service": True,
    "operations": True,
    "channel_manager": False,
    "agent": False,
    "partner_staff": False,
    "finance": False,
    "executive": False,
    "it_security": False,
    "auditor": False,
}
CUSTOS_UNMASK_SECONDS = int(os.environ.get("CUSTOS_UNMASK_SECONDS", 60))  # how long a value shows
CUSTOS_UNMASK_PER_HOUR = int(os.environ.get("CUSTOS_UNMASK_PER_HOUR", 100))  # then blocked + alert

# --- audit log ----------------------------------------------------------------------------------------
CUSTOS_AUDIT_RETENTION_DAYS = int(os.environ.get("CUSTOS_AUDIT_RETENTION_DAYS", 3 * 365))
CUSTOS_AUDIT_CHECKPOINT_MINUTES = int(os.environ.get("CUSTOS_AUDIT_CHECKPOINT_MINUTES", 5))
# `custos security check` and the key status page flag keys older than this.
CUSTOS_KEY_MAX_AGE_DAYS = int(os.environ.get("CUSTOS_KEY_MAX_AGE_DAYS", 365))

# --- the company, as customer letters name it (letterhead, hotline, return address) -------------------
# Demo defaults; a deployment sets its own (CUSTOS_COMPANY_NAME, _HOTLINE, _RETURN_ADDRESS, _POSTCODE).
CUSTOS_COMPANY = {
    "name": os.environ.get("CUSTOS_COMPANY_NAME", "示例人寿保险股份有限公司"),
    "hotline": os.environ.get("CUSTOS_COMPANY_HOTLINE", "400-820-0000"),
    "return_address": os.environ.get(
        "CUSTOS_COMPANY_RETURN_ADDRESS", "北京市西城区金融大街1号 客户服务中心（收）"
    ),
    "postcode": os.environ.get("CUSTOS_COMPANY_POSTCODE", "100033"),
}

# --- partners who do not correct (docs/partnership.md) ------------------------------------------------
# A clean-up campaign's deadline, in days from its start, unless compliance sets a date.
CUSTOS_CAMPAIGN_DEADLINE_DAYS = int(os.environ.get("CUSTOS_CAMPAIGN_DEADLINE_DAYS", 60))

# --- online screening (docs/screening.md) -----------------------------------------------------------
# Which checks block: a finding of a REJECT code rejects, of any other code refers (a person looks),
# none passes. Codes in IGNORE never change the verdict (they are still reported).
_codes = lambda name, default: frozenset(  # noqa: E731
    c.strip() for c in os.environ.get(name, default).split(",") if c.strip()
)
CUSTOS_SCREEN_REJECT = _codes(
    "CUSTOS_SCREEN_REJECT",
    "ID01,ID02,ID03,ID04,ID05,ID08,NM01,NM02,BD01,BD02,PH01,PH02,PH03,PH05,PH07,AD01,AD02,AD04,SC02,SC03,SC04",
)
CUSTOS_SCREEN_IGNORE = _codes("CUSTOS_SCREEN_IGNORE", "")
CUSTOS_SCREEN_MAX_BYTES = int(os.environ.get("CUSTOS_SCREEN_MAX_BYTES", 64 * 1024))
CUSTOS_SCREEN_AUTO_INDEX = os.environ.get("CUSTOS_SCREEN_AUTO_INDEX", "1") == "1"

# --- industry blacklist exchange (docs/blacklist.md) --------------------------------------------------
# association: this custos keeps the list and serves /api/v1/blacklist/ to members; member (default):
# it checks its staff against the association at CUSTOS_BLACKLIST_URL with CUSTOS_BLACKLIST_TOKEN.
CUSTOS_BLACKLIST_ROLE = os.environ.get("CUSTOS_BLACKLIST_ROLE", "member")
CUSTOS_BLACKLIST_URL = os.environ.get("CUSTOS_BLACKLIST_URL", "")
CUSTOS_BLACKLIST_TOKEN = os.environ.get("CUSTOS_BLACKLIST_TOKEN", "")
CUSTOS_BLACKLIST_TIMEOUT = float(os.environ.get("CUSTOS_BLACKLIST_TIMEOUT", 10))
# per member and window: look-ups and ID numbers; one look-up's ID numbers; the replay window
CUSTOS_BLACKLIST_WINDOW_SECONDS = int(os.environ.get("CUSTOS_BLACKLIST_WINDOW_SECONDS", 3600))
CUSTOS_BLACKLIST_MAX_REQUESTS = int(os.environ.get("CUSTOS_BLACKLIST_MAX_REQUESTS", 120))
CUSTOS_BLACKLIST_MAX_ITEMS = int(os.environ.get("CUSTOS_BLACKLIST_MAX_ITEMS", 20000))
CUSTOS_BLACKLIST_MAX_ITEMS_PER_REQUEST = int(os.environ.get("CUSTOS_BLACKLIST_MAX_ITEMS_PER_REQUEST", 10000))
CUSTOS_BLACKLIST_SKEW_SECONDS = int(os.environ.get("CUSTOS_BLACKLIST_SKEW_SECONDS", 300))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"  # only for `collectstatic`; WhiteNoise serves from the apps by default
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(HOME / "media")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: books can be large; Django streams anything above this to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CUSTOS_MAX_UPLOAD_BYTES = int(os.environ.get("CUSTOS_MAX_UPLOAD_BYTES", 2 * 1024**3))

# Task queue: Huey. Embedded default stores the queue in a SQLite file (no extra server);
# production sets CUSTOS_REDIS_URL.
_redis = os.environ.get("CUSTOS_REDIS_URL")
HUEY = {
    "name": "custos",
    "immediate": os.environ.get("CUSTOS_TASKS_IMMEDIATE") == "1",
    "consumer": {"workers": 2, "worker_type": "thread"},
}
if _redis:
    HUEY.update({"huey_class": "huey.RedisHuey", "connection": {"url": _redis}})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(HOME / "tasks.sqlite3")})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CUSTOS_LOG_LEVEL", "WARNING")},
    # the Huey consumer (`custos run_huey`, started by `custos serve`) adds its own time-stamped
    # handler; propagating to the root's as well printed every consumer line twice
    "loggers": {"huey": {"propagate": False}},
}
