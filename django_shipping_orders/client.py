"""HTTP to the providers: one ``requests.Session`` per account, timeouts, retries, throttling.

Idempotent requests (GET, DELETE) are retried on 429, 5xx and connection
errors with exponential backoff and full jitter, honouring ``Retry-After``,
at most ``MAX_RETRIES`` times. Requests that create something (POST an
order) are never retried here: the provider has no idempotency key, so a
blind retry would ship a parcel twice.

Errors are raised as the typed exceptions of :mod:`.exceptions`, built from
the provider's ``error`` / ``error_description``; no header (and so no API
key) ever reaches a message or a log line.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from . import __version__
from .conf import AccountSettings
from .documents import loads
from .exceptions import (
    InvalidMerchantAccount,
    InvalidProviderResponse,
    LabelNotReady,
    OrderCannotBeCancelled,
    OrderNotFound,
    ProviderAPIError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderValidationError,
    RateLimited,
    ShippingOrdersError,
)

logger = logging.getLogger("django_shipping_orders.client")

USER_AGENT = f"django-shipping-orders/{__version__} python-requests/{requests.__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
STATUS_ERRORS: dict[int, type[ProviderAPIError]] = {
    403: InvalidMerchantAccount,
    404: OrderNotFound,
}
#: Provider error codes with an exception of their own, whatever the status.
CODE_ERRORS: dict[str, type[ProviderAPIError]] = {
    "invalid_merchant_account": InvalidMerchantAccount,
    "not_found": OrderNotFound,
    "order_cannot_be_cancelled": OrderCannotBeCancelled,
    "label_not_ready": LabelNotReady,
}
#: Longest Retry-After we wait out inside one call; longer ones are raised to the caller.
MAX_RETRY_AFTER = 60.0


def quote_reference(reference: str) -> str:
    """A reference made safe for a URL path segment (no ``/`` or ``..`` tricks)."""
    return quote(str(reference), safe="")


class Throttle:
    """Called before every request; the refresh engine installs a shared rate limiter."""

    def wait(self, account: AccountSettings) -> None:  # pragma: no cover - trivial
        return None

    def penalize(self, account: AccountSettings, retry_after: float | None) -> None:
        """Told about a 429 so the account slows down everywhere."""
        return None


class ApiClient:
    """Talks to one account's provider API."""

    def __init__(
        self,
        account: AccountSettings,
        base_url: str,
        *,
        auth_headers: dict[str, str],
        extra_headers: dict[str, str] | None = None,
        error_map: dict[int, type[ProviderAPIError]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.headers.update(extra_headers or {})
        # Kept apart from session.headers so that nothing that dumps the session
        # headers (debug logging, error reports) carries the key.
        self._auth_headers = auth_headers
        self.error_map = error_map or {}
        self.throttle: Throttle = Throttle()
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<ApiClient account={self.account.alias!r} base_url={self.base_url!r}>"

    # -- public -------------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, *, retry: bool = False, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, retry=retry, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        retry: bool = True,
        reference: str = "",
    ) -> Any:
        """Send one request (retrying when allowed) and return the parsed JSON body."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempts = 1 + (self.account.max_retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send(method, url, json)
            except requests.Timeout:
                error: ShippingOrdersError = ProviderTimeout(
                    f"{self._where(method, path)} timed out after {self.account.timeout:g} s"
                    f"{self._tries(attempt)}.",
                    account=self.account.alias,
                    reference=reference,
                )
                if last:
                    # Not chained: the transport's frames hold the request headers
                    # (the API key) in their locals, which Django's error reports
                    # would print. The message names the transport error instead.
                    raise error from None
                self._backoff(attempt, None, method, path, "timeout")
                continue
            except requests.RequestException as err:
                error = ProviderUnavailable(
                    f"{self._where(method, path)} failed: {_transport_error(err)}{self._tries(attempt)}.",
                    account=self.account.alias,
                    reference=reference,
                )
                if last:
                    raise error from None  # unchained, as above
                self._backoff(attempt, None, method, path, type(err).__name__)
                continue

            if response.status_code in RETRY_STATUSES:
                retry_after = _retry_after(response)
                if response.status_code == 429:
                    self.throttle.penalize(self.account, retry_after)
                too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER
                if not last and not too_long:
                    self._backoff(attempt, retry_after, method, path, str(response.status_code))
                    continue
                raise self._error(response, method, path, reference, attempt)
            if response.status_code >= 400:
                raise self._error(response, method, path, reference, attempt)
            return self._parse(response, method, path, reference)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ----------------------------------------------------------------------

    def _send(self, method: str, url: str, json: Any) -> requests.Response:
        self.throttle.wait(self.account)
        with self._lock:
            self.requests_sent += 1
        return self.session.request(
            method,
            url,
            json=json,
            headers=self._auth_headers,
            timeout=(self.account.connect_timeout, self.account.timeout),
        )

    def _backoff(
        self, attempt: int, retry_after: float | None, method: str, path: str, why: str
    ) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            # Full jitter: spreads retries of many workers instead of syncing them.
            ceiling = min(self.account.backoff_max, self.account.backoff_factor * (2**attempt))
            delay = random.uniform(0, ceiling)
        logger.info(
            "Retrying %s in %.2f s (%s, attempt %d, account %r)",
            self._where(method, path),
            delay,
            why,
            attempt + 1,
            self.account.alias,
        )
        if delay > 0:
            self._sleep(delay)

    def _where(self, method: str, path: str) -> str:
        return f"{method} {path}"

    @staticmethod
    def _tries(attempt: int) -> str:
        return f" (after {attempt + 1} attempts)" if attempt else ""

    def _redact(self, response: requests.Response) -> requests.Response:
        """The response with the API key removed from its request, before an error carries it."""
        request = response.request
        if request is not None:
            for name in self._auth_headers:
                if name in request.headers:
                    request.headers[name] = "[redacted]"
        return response

    def _parse(self, response: requests.Response, method: str, path: str, reference: str) -> Any:
        if not response.content:
            return {}
        try:
            return loads(response.content)
        except ValueError:
            raise InvalidProviderResponse(
                f"{self._where(method, path)} answered HTTP {response.status_code} with a body "
                f"that is not JSON ({len(response.content)} bytes).",
                status_code=response.status_code,
                response=self._redact(response),
                account=self.account.alias,
                reference=reference,
            ) from None

    def _error(
        self, response: requests.Response, method: str, path: str, reference: str, attempt: int
    ) -> ProviderAPIError:
        code, description, body = _error_body(response)
        status = response.status_code
        if status == 429:
            cls: type[ProviderAPIError] = RateLimited
        elif status >= 500:
            cls = ProviderUnavailable
        else:
            cls = (
                CODE_ERRORS.get(code)
                or self.error_map.get(status)
                or STATUS_ERRORS.get(status, ProviderValidationError)
            )
        message = f"{self._where(method, path)} answered HTTP {status}"
        if code:
            message += f" {code}"
        if description:
            message += f": {description}"
        message += self._tries(attempt)
        message += f" (account {self.account.alias!r})"
        kwargs: dict[str, Any] = {}
        if issubclass(cls, OrderCannotBeCancelled):
            kwargs["order_state"] = str(body.get("order_state") or "")
        return cls(
            message,
            status_code=status,
            code=code,
            description=description,
            response=self._redact(response),
            account=self.account.alias,
            reference=reference,
            retry_after=_retry_after(response),
            **kwargs,
        )


def _transport_error(err: requests.RequestException) -> str:
    """The kind of transport failure, without URLs or headers (they may carry secrets)."""
    cause: object = err.args[0] if err.args else None
    while getattr(cause, "reason", None) is not None:  # urllib3 wraps the socket error
        cause = cause.reason  # type: ignore[attr-defined]
    if isinstance(cause, Exception) and type(cause).__name__ != type(err).__name__:
        return f"{type(err).__name__} ({type(cause).__name__})"
    return type(err).__name__


def _error_body(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """The provider's ``error`` and ``error_description`` (wrapped or not), if any."""
    try:
        body = loads(response.content) if response.content else {}
    except ValueError:
        return "", "", {}
    if isinstance(body, dict) and isinstance(body.get("response"), dict) and "error" not in body:
        body = body["response"]
    if not isinstance(body, dict):
        return "", "", {}
    code = body.get("error")
    description = body.get("error_description") or body.get("message") or ""
    if isinstance(code, dict):  # some APIs nest {"error": {"code", "message"}}
        description = description or str(code.get("message", ""))
        code = code.get("code", "")
    return str(code or "")[:200], str(description)[:1000], body


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if present."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
