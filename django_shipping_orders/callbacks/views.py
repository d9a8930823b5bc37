"""The callback endpoint: authenticate, store the body, then process it.

``CallbackView`` answers ``POST <prefix>/callbacks/<account>/`` (secret in a
header) and ``POST <prefix>/callbacks/<account>/<token>/`` (secret in the URL).
What each answer means to the provider:

- 200: the body is stored in a ``CallbackReceipt`` and was processed, ignored
  as a duplicate or stale, or failed to process (the failure is recorded on the
  receipt for staff; the body is safe, so the provider need not send it again);
- 202 ``{"status": "received"}``: the body is stored and will be applied
  shortly (deferred mode, or a transient database error in inline mode);
- 400 with ``{"error", "detail"}``: the body can never be applied (not JSON,
  not an object, no order reference, too large, a limit of ``DOCUMENT_LIMITS``
  broken, not JSON by content type); it is still stored, as ``unprocessable``.
  Both modes refuse exactly the same bodies;
- 401 / 403: not authenticated (missing secret / wrong secret, address not
  allowed, or no secret configured while DEBUG is off); orders are untouched
  and the request is recorded only at a bounded rate;
- 404: no such account; 405: not a POST; 503: the receipt could not be stored
  (the provider should try again).

A 500 is never the answer to anything a caller sends.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.response import HttpResponseBase
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .. import signals
from ..bounded import storable
from ..conf import AccountSettings, shipping_settings
from ..documents import OrderDocument
from ..exceptions import CallbackError, UnknownAccount
from ..models import CallbackReceipt
from ..providers import get_provider
from ..redaction import ScrubbingExceptionReporter, get_logger, redact_headers, scrub, scrub_bytes
from .bodies import examine_keyed
from .processing import process_receipt, send_failed
from .queue import request_processing
from .receipts import TRUNCATED_KEEP_BYTES, dedupe_key, store_receipt

logger = get_logger("django_shipping_orders.callbacks")

Status = CallbackReceipt.Status

#: Unauthenticated requests recorded per account and minute; the rest are only answered.
REJECTED_RECEIPTS_PER_MINUTE = 10
#: How much of an unauthenticated body is kept (enough to recognise a misconfigured provider).
REJECTED_KEEP_BYTES = 1024

_JSON_TYPES = frozenset({"application/json", "text/json"})


class CallbackView(View):
    """Receives a provider's callback for one account; see the module docstring for the answers."""

    http_method_names = ["post"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        view = super().as_view(**initkwargs)
        # The provider cannot send a CSRF token; the shared secret authenticates instead.
        view = csrf_exempt(view)
        # ATOMIC_REQUESTS must not wrap this view: a receipt rolled back together with a
        # failed processing would be a callback we answered and then lost.
        return transaction.non_atomic_requests(view)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # The path may hold the URL token: an error page of this request (DEBUG, or the
        # admins' e-mail) is scrubbed of it.
        request.exception_reporter_class = ScrubbingExceptionReporter
        response = super().dispatch(request, *args, **kwargs)
        # Django logs every 4xx with the request path, and the path may hold the URL
        # token: this view logs its own refusals without it.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = _error(405, "method_not_allowed", "Callbacks are sent with POST.")
        response["Allow"] = "POST"
        return response

    def post(
        self,
        request: HttpRequest,
        account: str = "",
        token: str | None = None,
        rest: str | None = None,
    ) -> HttpResponse:
        if rest is not None:  # nothing a provider was given: never echo the path
            return _error(
                404,
                "not_found",
                "Callbacks go to callbacks/<account>/ or callbacks/<account>/<token>/.",
            )
        try:
            config = shipping_settings.account(account)
        except UnknownAccount:
            return _error(404, "unknown_account", f"No shipping account {account[:64]!r}.")
        except ImproperlyConfigured as err:
            logger.error(
                "Callback for account %r refused: the setting is broken: %s", account[:64], err
            )
            return _error(
                503, "misconfigured", "This account's settings are broken; see the server log."
            )

        refusal = authenticate(request, config, token)
        if refusal is not None:
            status, code, detail = refusal
            _record_rejection(request, config, detail)
            return _error(status, code, detail)

        limit = shipping_settings.callback_max_bytes
        try:
            body, size = _read_body(request, limit)
        except UnreadablePostError:
            return _error(400, "unreadable_body", "The request body could not be read.")
        body = scrub_bytes(body, config)  # stored, parsed and shown without any secret
        receipt = CallbackReceipt(
            account=config.alias,
            body=body,
            # A NUL in a header reaches the view through some servers; no database stores it.
            content_type=storable(request.META.get("CONTENT_TYPE", ""))[:255],
            remote_addr=_remote_addr(request),
            headers=redact_headers(request.headers, config),
            dedupe_key=dedupe_key(body),
        )
        # One judgement of the body, made before the answer in both processing modes.
        problem, document = _judge(request, receipt, body, size, limit)
        if problem is not None:
            receipt.status = Status.UNPROCESSABLE
            receipt.error = storable(f"{problem[0]}: {problem[1]}")
            if receipt.truncated:
                receipt.error += f" Only the first {len(receipt.body)} bytes are kept (truncated)."
        elif document is not None:
            receipt.reference = document.reference

        try:
            store_receipt(receipt)  # autocommit: durable once this returns
        except DatabaseError as err:
            logger.error(
                "Could not store a callback for account %r: %s",
                config.alias,
                storable(scrub(str(err), config)),
            )
            return _error(
                503, "unavailable", "The callback could not be stored; please send it again."
            )
        transaction.on_commit(
            lambda: signals.callback_received.send(sender=CallbackReceipt, receipt=receipt),
            robust=True,
        )
        if problem is not None:
            logger.warning(
                "Callback receipt %s (%s) is unprocessable: %s",
                receipt.pk,
                config.alias,
                receipt.error,
            )
            send_failed(receipt, CallbackError(problem[1], code=problem[0]))
            return _error(400, problem[0], problem[1], receipt=receipt.pk)

        if shipping_settings.callback_processing == "deferred":
            return _defer(receipt, config)

        try:
            result = process_receipt(receipt, document=document)
        except Exception as err:  # the body is stored: the provider must not send it again
            logger.error(
                "Callback receipt %s (%s) is stored but could not be processed: %s",
                receipt.pk,
                config.alias,
                storable(scrub(f"{type(err).__name__}: {err}", config)),
            )
            return _received(receipt)
        if result.bad_input:
            return _error(400, result.code, result.reason, receipt=receipt.pk)
        if result.status == Status.RECEIVED:
            return _received(receipt)  # a transient error: the drain applies it shortly
        return JsonResponse({"status": str(result.status), "receipt": receipt.pk})


def _judge(
    request: HttpRequest, receipt: CallbackReceipt, body: bytes, size: int, limit: int
) -> tuple[tuple[str, str] | None, OrderDocument | None]:
    """(code, reason) when the body can never be applied, else the document read from it.

    A fault of our own (a broken setting, a bug in an adapter) is neither:
    the body is stored as ``received`` and processing records the fault.
    """
    if size > limit:
        receipt.body = body[:TRUNCATED_KEEP_BYTES]
        receipt.dedupe_key = ""
        receipt.truncated = True
        return (
            "too_large",
            f"The body has {size} bytes or more; the limit is {limit} (CALLBACK_MAX_BYTES).",
        ), None
    if not _is_json(request.content_type):
        return (
            "unsupported_content_type",
            f"Send the body as application/json, not {request.content_type or 'no content type'!r}.",
        ), None
    try:
        document, receipt.dedupe_key = examine_keyed(body, get_provider(receipt.account))
        return None, document
    except CallbackError as err:
        return (err.code, str(err)), None
    except Exception as err:
        logger.error(
            "Callback for account %r: reading the body failed unexpectedly: %s",
            receipt.account,
            storable(f"{type(err).__name__}: {err}"),
        )
        return None, None


def _received(receipt: CallbackReceipt) -> JsonResponse:
    """202: stored and accepted; it is applied later (deferred mode, or after a transient error)."""
    return JsonResponse({"status": Status.RECEIVED.value, "receipt": receipt.pk}, status=202)


def _defer(receipt: CallbackReceipt, config: AccountSettings) -> HttpResponse:
    """Deferred mode: answer 202 now; a django-q2 task applies the receipt."""
    try:
        request_processing()
    except Exception as err:  # the broker is down: the every-minute schedule picks it up
        logger.warning(
            "Callback receipt %s (%s) is stored; queueing its processing failed: %s",
            receipt.pk,
            config.alias,
            storable(scrub(str(err), config)),
        )
    return _received(receipt)


def authenticate(
    request: HttpRequest, account: AccountSettings, token: str | None = None
) -> tuple[int, str, str] | None:
    """``None`` when the request may be stored, else (HTTP status, error code, reason).

    Secrets are compared in constant time against every configured secret
    (a list, so a new one can be added before the old one is removed).
    """
    if account.callback_allowed_ips and not _address_allowed(request, account):
        return 403, "forbidden_address", "This address may not send callbacks to this account."
    if not account.callback_secrets:
        if settings.DEBUG:
            return None  # development: accepted without a secret (check W001 says so)
        return (
            403,
            "callbacks_not_configured",
            "This account has no CALLBACK_SECRETS; callbacks are refused while DEBUG is off.",
        )
    presented = [
        value for value in (request.headers.get(account.callback_secret_header), token) if value
    ]
    if account.callback_secret_param:
        # Shops moving from an official plugin keep their "?api_key=..." webhook URL
        # (off by default: check W004 says why).
        presented += [v for v in request.GET.getlist(account.callback_secret_param) if v][:1]
    if not presented:
        return (
            401,
            "missing_secret",
            f"Send the callback secret in the {account.callback_secret_header} header or in the URL.",
        )
    matched = False
    for candidate in presented:
        for secret in account.callback_secrets:
            # No short cut: every comparison runs, so the timing says nothing.
            matched |= hmac.compare_digest(candidate.encode(), secret.encode())
    if not matched:
        return 403, "wrong_secret", "The callback secret does not match."
    return None


def _address_allowed(request: HttpRequest, account: AccountSettings) -> bool:
    """True when REMOTE_ADDR is in ``CALLBACK_ALLOWED_IPS`` (addresses or networks).

    Only REMOTE_ADDR counts: X-Forwarded-For is whatever the caller wants it to
    be. Behind a proxy, the project must set REMOTE_ADDR to the client address.
    """
    address = _remote_addr(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    for entry in account.callback_allowed_ips:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            logger.warning(
                "CALLBACK_ALLOWED_IPS of account %r: %r is not an address or network; ignored.",
                account.alias,
                entry,
            )
            continue
        if ip.version == network.version and ip in network:
            return True
    return False


def _remote_addr(request: HttpRequest) -> str | None:
    """The sender's address, without an IPv6 interface (``%eth0``: ``inet`` refuses it)."""
    value = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    return str(address)


def _read_body(request: HttpRequest, limit: int) -> tuple[bytes, int]:
    """Up to ``limit + 1`` bytes of the body and the size known so far.

    The stream is read directly (not ``request.body``), so a body larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE is answered with our own 400, not Django's, and
    a huge body is never read into memory whole.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    already = getattr(request, "_body", None)  # read by a middleware before us
    if already is not None:
        return already[: limit + 1], max(len(already), declared)
    if declared > limit:
        # Read past what is kept: a secret across the cut is blanked out before the cut.
        return request.read(TRUNCATED_KEEP_BYTES + 1024), declared
    body = request.read(limit + 1)
    return body, max(len(body), declared)


def _is_json(content_type: str | None) -> bool:
    content_type = (content_type or "").lower()
    return content_type in _JSON_TYPES or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _record_rejection(request: HttpRequest, account: AccountSettings, reason: str) -> None:
    """Log a refused request and keep a receipt of it, at most a few per account and minute."""
    address = _remote_addr(request)
    logger.warning("Refused a callback for account %r from %s: %s", account.alias, address, reason)
    if not _rejection_allowed(account.alias):
        return
    try:
        # A little more than is kept, so a secret across the cut is replaced whole.
        body = request.read(REJECTED_KEEP_BYTES + 1024)
    except (UnreadablePostError, OSError):
        body = b""
    body = scrub_bytes(body, account)[:REJECTED_KEEP_BYTES]
    try:
        CallbackReceipt.objects.create(
            account=account.alias,
            body=body,
            # A NUL in a header reaches the view through some servers; no database stores it.
            content_type=storable(request.META.get("CONTENT_TYPE", ""))[:255],
            remote_addr=address,
            headers=redact_headers(request.headers, account),
            status=Status.REJECTED,
            error=f"{reason} (first {len(body)} bytes of the body kept)",
        )
    except DatabaseError as err:
        logger.error("Could not record a refused callback: %s", scrub(str(err), account))


def _rejection_allowed(alias: str) -> bool:
    """A per-minute counter in the shared cache; on cache trouble, record nothing."""
    key = f"shipping_orders:callback-rejected:{alias}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, timeout=120)
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        count = 1
    except Exception:  # the cache is down: answering matters more than recording
        return False
    return count <= REJECTED_RECEIPTS_PER_MINUTE


def _error(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail, **extra}, status=status)
