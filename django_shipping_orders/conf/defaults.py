"""Every key of ``SHIPPING_ORDERS`` and of an account in it, with its default.

A key that is not listed here is an error that names it (see :mod:`.validation`).
"""

from __future__ import annotations

from typing import Any

SETTING_NAME = "SHIPPING_ORDERS"

#: Provider names understood without a dotted path.
BUILTIN_PROVIDERS: dict[str, str] = {
    "shippit": "django_shipping_orders.providers.shippit.ShippitProvider",
    "senderlv": "django_shipping_orders.providers.senderlv.SenderLvProvider",
    "sandbox": "django_shipping_orders.providers.sandbox.SandboxProvider",
    "sandbox-senderlv": "django_shipping_orders.providers.sandbox.SandboxSenderLvProvider",
}

#: Per-account keys and their defaults. ``None`` for BASE_URL means "the provider's own".
ACCOUNT_DEFAULTS: dict[str, Any] = {
    "PROVIDER": None,
    "API_KEY": "",
    "BASE_URL": None,
    # Authentication of incoming callbacks: a list so that secrets can rotate.
    "CALLBACK_SECRETS": [],
    "CALLBACK_SECRET_HEADER": "X-Shipping-Callback-Secret",
    "CALLBACK_ALLOWED_IPS": [],
    # Treat a callback as a hint and fetch the order from the provider instead.
    "CALLBACK_VERIFY": False,
    # Requests per window, e.g. "60/m", "1000/60s", "5/s", "3600/h".
    "RATE_LIMIT": "60/m",
    # Seconds: connect timeout and read timeout of every provider request.
    "CONNECT_TIMEOUT": 5.0,
    "TIMEOUT": 20.0,
    # Retries of idempotent requests on 429, 5xx and connection errors.
    "MAX_RETRIES": 3,
    "BACKOFF_FACTOR": 0.5,
    "BACKOFF_MAX": 30.0,
    # Provider-specific knobs (Sender.lv: auth header, language; Shippit: platform header).
    "AUTH_HEADER": "Authorization",
    "AUTH_SCHEME": "Bearer",
    "LANGUAGE": "",
    "PLATFORM": "django-shipping-orders",
    # Renamed fields ({"their_name": "our_name"}) and extra states ({"their_state": "known_state"}).
    "FIELD_MAP": {},
    "STATE_MAP": {},
    # Hosts (https only) from which label PDFs may be downloaded; [] means the provider's own.
    "LABEL_HOSTS": [],
    # Currency of the provider's charges ("price"); None means the provider's own (AUD, EUR).
    "CURRENCY": None,
    # Name of a query-string parameter that may carry the callback secret, for shops
    # moving from an official plugin (their webhook URLs end in "?api_key=..."). Off
    # by default: query strings end up in web server logs (check W004).
    "CALLBACK_SECRET_PARAM": None,
}

#: Top-level keys and their defaults.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "ACCOUNTS": {},
    # Storage alias (a key of settings.STORAGES) for label PDFs; None = a private
    # FileSystemStorage under LABEL_ROOT that is never served from MEDIA_URL.
    "LABEL_STORAGE": None,
    "LABEL_ROOT": None,
    "LABEL_MAX_BYTES": 10 * 1024 * 1024,
    # Largest callback body accepted, in bytes.
    "CALLBACK_MAX_BYTES": 1024 * 1024,
    # Limits of a JSON body (callbacks, provider answers), checked before any value is used:
    # see docs/settings.md. Keys: MAX_DEPTH, MAX_ITEMS, MAX_NUMBER_DIGITS, MAX_NUMBER_EXPONENT.
    "DOCUMENT_LIMITS": {},
    # Seconds within which two documents about an order count as simultaneous (clock skew
    # between the provider and us): there the state's rank decides. See docs/callbacks.md.
    "CLOCK_WINDOW": 5.0,
    # "inline": apply a callback before answering it. "deferred": store it, answer
    # 202 at once, and let a django-q2 task apply it (for high callback volumes).
    "CALLBACK_PROCESSING": "inline",
    # Refresh policy: see docs/refresh.md. Every number is in seconds.
    "REFRESH": {},
    # Threads per process used by the refresh engine.
    "REFRESH_WORKERS": 4,
    # Cache alias (a key of settings.CACHES) holding the shared per-account rate limit.
    "RATE_LIMIT_CACHE": "default",
    # Longest pause (seconds) a provider's Retry-After may impose on an account's
    # shared budget; a longer, infinite or unreadable value is cut to this.
    "RETRY_AFTER_MAX": 300,
    # True only when one process talks to the providers (one runserver, one command,
    # no qcluster): then a local-memory RATE_LIMIT_CACHE is allowed.
    "SINGLE_PROCESS": False,
    # DRF permission classes (dotted paths) of the read-only orders API.
    "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    # Courier display names: {"name as any provider spells it": "name people read"}.
    "COURIER_NAMES": {},
}

#: ``DOCUMENT_LIMITS`` keys -> ``bounded.Limits`` fields.
DOCUMENT_LIMIT_KEYS: dict[str, str] = {
    "MAX_DEPTH": "max_depth",
    "MAX_ITEMS": "max_items",
    "MAX_NUMBER_DIGITS": "max_number_digits",
    "MAX_NUMBER_EXPONENT": "max_number_exponent",
}
