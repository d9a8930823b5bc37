"""HTTP to the providers: one ``requests.Session`` per account, timeouts, retries, the rate limit.

Every request, first try or retry, takes its slot of the account's rate
budget from the limiter handed to the client, at the moment it is sent
(:mod:`.ratelimit`). How long a call may wait for rate limits, the limiter's
slots and a 429's ``Retry-After`` together, is its ``wait`` budget: a web
request waits a few seconds at most, the ``--wait`` refresh as long as it
takes (:meth:`ApiClient.with_wait`).

Idempotent requests (GET, DELETE) are retried on 429, 5xx and connection
errors with exponential backoff and full jitter, honouring ``Retry-After``,
at most ``MAX_RETRIES`` times. Requests that create something (POST an
order) are never retried here: the provider has no idempotency key, so a
blind retry would ship a parcel twice.

Provider text enters the app here, and is scrubbed of every configured
secret here (:func:`.redaction.scrub`): errors are raised as the typed
exceptions of :mod:`.exceptions`, built from the provider's ``error`` /
``error_description`` with any echoed API key or callback secret replaced,
and the response they carry holds the scrubbed body and no auth header.
Bodies are read up to ``MAX_RESPONSE_BYTES`` and parsed with their nesting
bounded (:mod:`.replies`), so a hostile or broken answer is a typed error, never a crash.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from . import __version__, replies
from .conf import AccountSettings
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
    UnexpectedRedirect,
)
from .redaction import get_logger, scrub, scrub_bytes

# Named here too: they were ``client`` names before :mod:`.replies` held them.
from .replies import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from .replies import MAX_RESPONSE_BYTES as MAX_RESPONSE_BYTES
from .replies import TooLarge, error_body, load_json, parse_retry_after, read_body, transport_error
from .replies import bound_retry_after as bound_retry_after

if TYPE_CHECKING:
    from .ratelimit import RateLimiter, Ticket

logger = get_logger("django_shipping_orders.client")

USER_AGENT = f"django-shipping-orders/{__version__} python-requests/{requests.__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
STATUS_ERRORS: dict[int, type[ProviderAPIError]] = {
    401: InvalidMerchantAccount,
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
#: Default ``wait`` of a client: seconds one call may spend waiting for rate limits. Short,
#: because most calls come from a web request; the ``--wait`` refresh passes ``None``.
DEFAULT_WAIT = 5.0


def quote_reference(reference: str) -> str:
    """A reference made safe for a URL path segment (no ``/`` or ``..`` tricks)."""
    return quote(str(reference), safe="")


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
        limiter: RateLimiter | None = None,
        wait: float | None = DEFAULT_WAIT,
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
        #: Every request takes a slot here when it is sent (None: no limit, for tests).
        self.limiter = limiter
        #: Seconds one call may wait for rate limits (None: as long as it takes).
        self.wait = wait
        #: The share (0 to 1) of the rate limit this client's requests may fill: a request
        #: is sent only while fewer than that share of the window's slots are taken.
        self.share = 1.0
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<ApiClient account={self.account.alias!r} base_url={self.base_url!r}>"

    def with_wait(self, wait: float | None) -> ApiClient:
        """This client (same session and limiter) with another ``wait`` budget per call."""
        if wait == self.wait:
            return self
        other = copy.copy(self)
        other.wait = wait
        return other

    def with_share(self, share: float) -> ApiClient:
        """This client (same session and limiter) whose requests fill at most ``share`` of the limit.

        For requests that must leave the rest of the budget to others (spare
        polls): each is admitted only while the requests already counted in
        the window are fewer than ``share`` of the limit, checked in the same
        atomic step that takes the slot, so two runs at once cannot spend the rest.
        """
        if share == self.share:
            return self
        other = copy.copy(self)
        other.share = share
        return other

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
        deadline = None if self.wait is None else time.monotonic() + self.wait
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send(method, url, json, _left(deadline), reference)
            except requests.Timeout:
                error: ShippingOrdersError = ProviderTimeout(
                    f"{self._where(method, path)} timed out after {self.account.timeout:g} s"
                    f"{self._tries(attempt)}.",
                    account=self.account.alias,
                    reference=reference,
                )
                delay = self._delay(attempt, None)
                if last or self._spent(deadline, delay):
                    # Not chained: the transport's frames hold the request headers
                    # (the API key) in their locals, which Django's error reports
                    # would print. The message names the transport error instead.
                    raise error from None
                self._pause(delay, attempt, method, path, "timeout")
                continue
            except TooLarge:
                # The limit is read from replies at call time: the one read_body enforced.
                raise InvalidProviderResponse(
                    f"{self._where(method, path)} answered with a body larger than "
                    f"{replies.MAX_RESPONSE_BYTES} bytes; not read.",
                    account=self.account.alias,
                    reference=reference,
                ) from None
            except requests.RequestException as err:
                error = ProviderUnavailable(
                    f"{self._where(method, path)} failed: {transport_error(err)}{self._tries(attempt)}.",
                    account=self.account.alias,
                    reference=reference,
                )
                delay = self._delay(attempt, None)
                if last or self._spent(deadline, delay):
                    raise error from None  # unchained, as above
                self._pause(delay, attempt, method, path, type(err).__name__)
                continue

            if response.status_code in RETRY_STATUSES:
                retry_after = parse_retry_after(response)
                delay = self._delay(attempt, retry_after)
                if response.status_code == 429 and self.limiter is not None:
                    self.limiter.penalize(self.account, retry_after)
                # Every pause before a retry must fit the caller's wait budget.
                too_long = delay > MAX_RETRY_AFTER or self._spent(deadline, delay)
                if not last and not too_long:
                    self._pause(delay, attempt, method, path, str(response.status_code))
                    continue
                raise self._error(response, method, path, reference, attempt)
            if 300 <= response.status_code < 400:
                raise UnexpectedRedirect(
                    f"{self._where(method, path)} answered HTTP {response.status_code} (a redirect, "
                    f"not followed) (account {self.account.alias!r}).",
                    status_code=response.status_code,
                    response=self._redact(response),
                    account=self.account.alias,
                    reference=reference,
                )
            if response.status_code >= 400:
                raise self._error(response, method, path, reference, attempt)
            return self._parse(response, method, path, reference)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ----------------------------------------------------------------------

    def _send(
        self, method: str, url: str, json: Any, wait: float | None, reference: str
    ) -> requests.Response:
        """One request, admitted by the limiter the moment it goes out, its body read (bounded)."""
        ticket: Ticket | None = None
        if self.limiter is not None:
            try:
                ticket = self.limiter.acquire(self.account, wait=wait, share=self.share)
            except RateLimited as err:
                err.reference = reference
                raise
        # The whole request, answer included, ends within both timeouts: the limiter
        # counts it in flight for that long, and a trickled body cannot outlast it.
        total = time.monotonic() + self.account.connect_timeout + self.account.timeout
        timed_out = False
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                headers=self._auth_headers,
                timeout=(self.account.connect_timeout, self.account.timeout),
                stream=True,
                # Never followed: a redirect could loop, re-send a POST, carry the
                # auth headers to another host or reach a private address.
                allow_redirects=False,
            )
            try:
                read_body(response, total)
            except BaseException:
                response.close()
                raise
            # The boundary: nothing parses or stores an answer holding the key or a secret.
            response._content = scrub_bytes(response.content, self.account)
            return response
        except requests.Timeout:
            timed_out = True
            raise
        finally:
            # The provider saw the request by now: it counts one window from here.
            if ticket is not None:
                ticket.finish(timed_out=timed_out)

    @staticmethod
    def _spent(deadline: float | None, delay: float) -> bool:
        """True when pausing ``delay`` seconds (and trying again) would overrun the wait budget."""
        left = _left(deadline)
        return left is not None and (left <= 0 or delay > left)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # Full jitter: spreads retries of many workers instead of syncing them.
        ceiling = min(self.account.backoff_max, self.account.backoff_factor * (2**attempt))
        return random.uniform(0, ceiling)

    def _pause(self, delay: float, attempt: int, method: str, path: str, why: str) -> None:
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
        """The response without the API key in its request or any secret in its body.

        Done before an error carries the response: whoever reads ``err.response``
        later (a log, an error report) sees what the provider said, scrubbed.
        """
        request = response.request
        if request is not None:
            for name in self._auth_headers:
                if name in request.headers:
                    request.headers[name] = "[redacted]"
        content = response.content or b""
        text = content.decode("utf-8", "replace")
        clean = scrub(text, self.account)
        if clean != text:
            response._content = clean.encode()
        return response

    def _parse(self, response: requests.Response, method: str, path: str, reference: str) -> Any:
        if not response.content:
            return {}
        try:
            return load_json(response.content)
        except ValueError as err:
            raise InvalidProviderResponse(
                f"{self._where(method, path)} answered HTTP {response.status_code} with a body "
                f"that is not JSON we can read ({err}; {len(response.content)} bytes).",
                status_code=response.status_code,
                response=self._redact(response),
                account=self.account.alias,
                reference=reference,
            ) from None

    def _error(
        self, response: requests.Response, method: str, path: str, reference: str, attempt: int
    ) -> ProviderAPIError:
        code, description, body = error_body(response)
        # The provider's words enter the app here: an echoed key or secret stops here too.
        # Scrubbed whole, then cut: a cut first could keep most of a secret unrecognised.
        code = scrub(code, self.account)[:200]
        description = scrub(description, self.account)[:1000]
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
            kwargs["order_state"] = scrub(str(body.get("order_state") or ""), self.account)[:100]
        return cls(
            message,
            status_code=status,
            code=code,
            description=description,
            response=self._redact(response),
            account=self.account.alias,
            reference=reference,
            retry_after=parse_retry_after(response),
            **kwargs,
        )


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (monotonic), never negative; None for no deadline."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
