"""WaChat settings: one file, everything from the environment (or a .env file).

Values already in the environment win over .env, and both win over the development
defaults that `make run` switches on with WACHAT_DEV=1.
"""

import os
import warnings
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # never overrides variables already set

# `make run` sets WACHAT_DEV=1: debug on, demo secrets, the built-in WhatsApp emulator.
DEV = env.bool("WACHAT_DEV", default=False)
DATA_DIR = Path(env("WACHAT_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite files live here
PORT = env.int("PORT", default=8000)
HOST = env("HOST", default="127.0.0.1")
PUBLIC_URL = env("PUBLIC_URL", default=f"http://{HOST}:{PORT}").rstrip("/")

DEBUG = env.bool("DEBUG", default=DEV)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEV else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "huey.contrib.djhuey",
    "wachat.conversations",
    "wachat.whatsapp",
    "wachat.whatsapp.emulator",
    "wachat.realtime",
    "wachat.widget",
    "wachat.agents",
    "wachat.backoffice",
    "wachat.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CORS + origin allowlist for /api/widget/ (the widget runs on customers' sites).
    "wachat.widget.middleware.WidgetCorsMiddleware",
    # Text with U+0000 cannot be stored (PostgreSQL): refused with 400 (wachat/ops/nul.py);
    # after CORS, so the widget can read why.
    "wachat.ops.nul.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'wachat.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker threads write concurrently: WAL lets readers proceed, IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so browser tests can share the test database with a server
    # they start in a subprocess; one per test run, so runs never collide.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI, Django closes the connection after each request and each WebSocket
    # database call (Channels); opening a new one each time cost 10x the latency of a
    # message (bench/agents.py). Django's docs: use the driver's pool, not CONN_MAX_AGE.
    pool_size = env.int("DATABASE_POOL_SIZE", default=40)
    if pool_size:
        pool = {"min_size": 2, "max_size": pool_size, "timeout": 10}
        _db.setdefault("OPTIONS", {})["pool"] = pool
elif _db["ENGINE"] == "django.db.backends.mysql":
    import pymysql

    pymysql.install_as_MySQLdb()
    _db.setdefault("OPTIONS", {})["charset"] = "utf8mb4"
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Huey --------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env("HUEY_NAME", default="wachat"),
        "url": REDIS_URL,
        "immediate": False,
    }
    # Shared by every process: rate-limit counters must add up across web processes.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # One process holds the in-memory layer, so `manage.py serve` runs the worker inside
    # the web process when there is no Redis (see wachat/realtime/publish.py).
    # A socket's queue holds 1000 events: past Channels' default of 100, a group send
    # silently skips a socket, which a busy agent's could reach in a burst.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": env("HUEY_NAME", default="wachat"),
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": False,
    }
# The test suite runs tasks inline (HUEY_IMMEDIATE, set by config/testenv.py); browser
# tests start real servers and workers, with it off.
if env.bool("HUEY_IMMEDIATE", default=False):
    HUEY = {"name": "wachat-test", "immediate": True}

# --- WhatsApp Cloud API -------------------------------------------------------------------
# Under WACHAT_DEV the Graph URL defaults to the built-in emulator on this server.
WHATSAPP_EMULATOR = env.bool("WHATSAPP_EMULATOR", default=DEV)
_emulator = WHATSAPP_EMULATOR
WHATSAPP_GRAPH_URL = env(
    "WHATSAPP_GRAPH_URL",
    default=f"{PUBLIC_URL}/emulator/graph" if _emulator else "https://graph.facebook.com",
).rstrip("/")
WHATSAPP_API_VERSION = env("WHATSAPP_API_VERSION", default="v23.0")
WHATSAPP_ACCESS_TOKEN = env("WHATSAPP_ACCESS_TOKEN", default="emulator-token" if _emulator else "")
WHATSAPP_PHONE_NUMBER_ID = env(
    "WHATSAPP_PHONE_NUMBER_ID", default="100000000000001" if _emulator else ""
)
WHATSAPP_BUSINESS_NUMBER = env(
    "WHATSAPP_BUSINESS_NUMBER", default="15550100000" if _emulator else ""
)
WHATSAPP_APP_SECRET = env("WHATSAPP_APP_SECRET", default="emulator-app-secret" if _emulator else "")
WHATSAPP_VERIFY_TOKEN = env("WHATSAPP_VERIFY_TOKEN", default="emulator-verify" if _emulator else "")
WHATSAPP_TIMEOUT = env.float("WHATSAPP_TIMEOUT", default=10.0)
WHATSAPP_SEND_ATTEMPTS = env.int("WHATSAPP_SEND_ATTEMPTS", default=3)
# Circuit breaker around the Graph API: opens after this many server-side failures in a
# row, and lets one probe through after the cool-down (seconds).
WHATSAPP_BREAKER_THRESHOLD = env.int("WHATSAPP_BREAKER_THRESHOLD", default=5)
WHATSAPP_BREAKER_COOLDOWN = env.float("WHATSAPP_BREAKER_COOLDOWN", default=30.0)
# Retries for Graph error 131056 (too many messages to one recipient): pacing, not failure,
# so they do not use up WHATSAPP_SEND_ATTEMPTS.
WHATSAPP_PACING_ATTEMPTS = env.int("WHATSAPP_PACING_ATTEMPTS", default=10)
# The approved template sent instead when the 24-hour window is closed (Graph error
# 131047); Meta's sample "hello_world" exists in every new business account.
WHATSAPP_REENGAGE_TEMPLATE = env("WHATSAPP_REENGAGE_TEMPLATE", default="hello_world")
WHATSAPP_REENGAGE_LANGUAGE = env("WHATSAPP_REENGAGE_LANGUAGE", default="en_US")
# Largest inbound media file the worker downloads and stores (bytes).
WHATSAPP_MAX_MEDIA_BYTES = env.int("WHATSAPP_MAX_MEDIA_BYTES", default=16 * 1024 * 1024)
# Where the emulator posts its signed webhooks (this server's webhook endpoint).
EMULATOR_WEBHOOK_URL = env("EMULATOR_WEBHOOK_URL", default=f"{PUBLIC_URL}/webhooks/whatsapp/")

# Outbound delivery channels the domain hands messages to (dotted paths, see
# wachat/conversations/transports.py).
WACHAT_TRANSPORTS = [
    "wachat.whatsapp.transport.WhatsAppTransport",
    # WhatsApp customers' messages copied to the assigned agent's phone (relay).
    "wachat.whatsapp.relay.AgentRelayTransport",
]

# --- Secrets in chat_settings -------------------------------------------------------------
# Comma-separated Fernet keys, newest first; old keys keep decrypting after a rotation.
# Empty: one key derived from SECRET_KEY.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])

# --- Widget -------------------------------------------------------------------------------
WIDGET_MAX_MESSAGE_CHARS = 4096  # WhatsApp's limit for a text message body
WIDGET_TOKEN_MAX_AGE = env.int("WIDGET_TOKEN_MAX_AGE", default=60 * 60 * 24 * 90)
# Websites that may embed the widget (besides this server's own origin), e.g.
# "https://shop.example.com,https://www.example.com"; "*" allows any. The admin adds more
# in chat_settings (widget_allowed_origins). Enforced on /api/widget/ and /ws/widget/.
WIDGET_ALLOWED_ORIGINS = env.list("WIDGET_ALLOWED_ORIGINS", default=[])
# Rate limits as (count, window seconds), per visitor session and per client IP; counted
# in the default cache (per process unless CACHES points at Redis).
WIDGET_RATE_LIMITS = {
    "message": {"visitor": (20, 60), "ip": (120, 60)},
    "session": {"ip": (60, 60)},
    "form": {"visitor": (10, 60), "ip": (30, 60)},
    "upload": {"visitor": (10, 60), "ip": (30, 60)},
    # E-mailed transcripts go to any address the visitor types: few, so nobody can spam.
    "transcript": {"visitor": (3, 3600), "ip": (10, 3600)},
    # Read receipts over HTTP (long-poll mode): one per batch of agent messages seen.
    "seen": {"visitor": (60, 60), "ip": (300, 60)},
}
# Behind a reverse proxy, count the client's address from X-Forwarded-For.
WIDGET_TRUST_X_FORWARDED_FOR = env.bool("WIDGET_TRUST_X_FORWARDED_FOR", default=False)
# Identity verification for the host site's logged-in users: the site signs
# "<user id>:<unix time>" with HMAC-SHA256 under this secret and passes it to
# WaChat.identify(); empty turns verification off. A signature expires after MAX_AGE.
WIDGET_IDENTITY_SECRET = env("WIDGET_IDENTITY_SECRET", default="")
WIDGET_IDENTITY_MAX_AGE = env.int("WIDGET_IDENTITY_MAX_AGE", default=60 * 60 * 24)
# Long-poll fallback (WebSockets blocked): how long GET /api/widget/poll waits for news.
WIDGET_POLL_SECONDS = env.int("WIDGET_POLL_SECONDS", default=25)
# The visitor's location, shown to agents, from headers a trusted proxy sets, as
# field=Header pairs (fields: country, region, city), e.g. behind Cloudflare
# "country=CF-IPCountry,city=CF-IPCity,region=CF-Region". Off by default: without a proxy
# that sets them, visitors can send these headers themselves.
WACHAT_GEO_HEADERS = env.list("WACHAT_GEO_HEADERS", default=[])

# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` when set (Prometheus:
# `authorization: {credentials: ...}`); unset, keep /metrics on the internal network.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- E-mail (conversation transcripts) ----------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587; the default prints
# e-mails to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="WaChat <chat@localhost>")

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/center/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True  # serve straight from the apps' static/ folders
# WhiteNoise hands Django's ASGI handler a file iterator; Django reads it in a thread and
# warns each time. Harmless for our few small files.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous")
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
# Largest file a visitor or agent may attach (bytes); what is accepted: see
# wachat/conversations/attachments.py.
WACHAT_ATTACHMENT_MAX_BYTES = env.int("WACHAT_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

UNFOLD = {
    "SITE_TITLE": "WaChat admin",
    "SITE_HEADER": "WaChat",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "WaChat",
                "items": [
                    {
                        "title": "Analytics",
                        "icon": "monitoring",
                        "link": "/admin/conversations/conversation/analytics/",
                    },
                    {"title": "Conversation Center", "icon": "forum", "link": "/center/"},
                    {
                        "title": "Conversations",
                        "icon": "chat",
                        "link": "/admin/conversations/conversation/",
                        # Not while on Analytics, whose address starts with this one.
                        "active": lambda request: (
                            request.path.startswith("/admin/conversations/conversation/")
                            and not request.path.endswith("/analytics/")
                        ),
                    },
                    {
                        "title": "Agents",
                        "icon": "support_agent",
                        "link": "/admin/conversations/chatagent/",
                    },
                    {
                        "title": "Visitors",
                        "icon": "person",
                        "link": "/admin/conversations/visitorsession/",
                    },
                    {
                        "title": "Webhook log",
                        "icon": "webhook",
                        "link": "/admin/whatsapp/webhookevent/",
                    },
                    {
                        "title": "Settings",
                        "icon": "settings",
                        "link": "/admin/backoffice/chatsetting/",
                    },
                ],
            }
        ],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Naming it drops Django's own console handler (DEBUG only), which printed each
        # warning a second time, unformatted.
        "django": {"level": "INFO"},
        "huey": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
