"""The provider API routes (``/api/3`` for Shippit, ``/api/v1`` for Sender.lv).

Request faults are applied here and only here: labels, tracking pages and the
control API always answer, so a test can inspect the sandbox while its API is
misbehaving. The order of checks follows a real gateway: latency, key,
rate limit, then the injected failures, then the route itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .answers import (
    QuoteInvalid,
    cancel_response,
    create_response,
    label_response,
    merchant_response,
    quotes_response,
    tracking_response,
)
from .dialects import (
    CANCELLABLE,
    LABEL_FAILED_PROCESSING,
    LABEL_NOT_AVAILABLE,
    OrderInvalid,
    courier_name,
    error,
    normalize_order,
    render_document,
    wrap,
)
from .world import SandboxAccount, SandboxOrder

if TYPE_CHECKING:
    from .server import SandboxServer

PREFIXES = {"shippit": "/api/3", "senderlv": "/api/v1"}
MAX_BOOKING = 1000


class Headers(Protocol):
    """A request's headers as the HTTP server parsed them: ``get`` ignores the name's case."""

    def get(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class Response:
    """What to send back; ``status == 0`` closes the connection without an answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


DROP = Response(0)


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(payload).encode(), "application/json", headers)


@dataclass
class _Call:
    """One API request, as the route functions see it."""

    sandbox: SandboxServer
    dialect: str
    account: SandboxAccount
    route: str
    ref: str | None
    body: bytes
    now: float
    lang: str

    def find(self) -> SandboxOrder | None:
        """The order named in the path, counting the call against it."""
        order = self.sandbox.world.find(self.ref or "", self.account.api_key)
        if order is not None:
            _touch(order, self.route)
        return order

    def not_found(self) -> Response:
        return json_response(404, error("not_found", lang=self.lang))


def _touch(order: SandboxOrder, route: str) -> None:
    order.calls[route] = order.calls.get(route, 0) + 1


def _parse(pattern_path: str) -> tuple[str, str | None] | None:
    """Split a path below the prefix into a route pattern and the reference in it."""
    parts = pattern_path.strip("/").split("/")
    if parts == ["orders"]:
        return "/orders", None
    if parts in (["book"], ["merchant"], ["quotes"]):
        return "/" + parts[0], None
    if len(parts) >= 2 and parts[0] == "orders" and parts[1]:
        if len(parts) == 2:
            return "/orders/{ref}", parts[1]
        if len(parts) == 3 and parts[2] in ("label", "tracking"):
            return f"/orders/{{ref}}/{parts[2]}", parts[1]
    return None


def _api_key(headers: Headers, dialect: str) -> str | None:
    auth = headers.get("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if dialect == "senderlv":
        return headers.get("X-Api-Key") or None
    return None


def handle_api(
    sandbox: SandboxServer,
    dialect: str,
    method: str,
    rest: str,
    headers: Headers,
    body: bytes,
) -> Response:
    """Answer one provider API request, faults included."""
    faults = sandbox.faults
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000.0)
    parsed = _parse(rest)
    pattern = parsed[0] if parsed else "/*"
    route = f"{method} {PREFIXES[dialect]}{pattern}"
    key = _api_key(headers, dialect)
    lang = (headers.get("x-api-lang-iso") or "en").lower() if dialect == "senderlv" else "en"
    now = sandbox.clock.now()
    response = _answer(sandbox, dialect, method, parsed, route, key, lang, body, now)
    sandbox.counters.record(route, key, response.status or "timeout", now)
    return response


def _answer(
    sandbox: SandboxServer,
    dialect: str,
    method: str,
    parsed: tuple[str, str | None] | None,
    route: str,
    key: str | None,
    lang: str,
    body: bytes,
    now: float,
) -> Response:
    faults = sandbox.faults
    account = sandbox.world.accounts.get(key) if key else None
    if account is None or account.dialect != dialect:
        return json_response(403, error("invalid_merchant_account", lang=lang))
    limit = account.rate_limit if account.rate_limit is not None else faults.rate_limit
    wait = sandbox.meter.arrive(account.api_key, limit)
    if wait is not None:
        retry = sandbox.meter.retry_after(wait)
        text = f"Rate limit exceeded: {limit} requests per {sandbox.meter.window:g} seconds."
        return json_response(429, error("too_many_requests", text), (("Retry-After", retry),))
    fault = sandbox.injector.request_fault(faults)
    if fault == "throttle":
        sandbox.counters.fault("throttle")
        text = "Too many requests; slow down."
        return json_response(429, error("too_many_requests", text), (("Retry-After", "1"),))
    if fault == "timeout":
        sandbox.counters.fault("timeout")
        sandbox.stopping.wait(faults.timeout_seconds)
        return DROP
    if fault == "fail":
        sandbox.counters.fault("fail")
        status = sandbox.injector.fail_status()
        code = "service_unavailable" if status == 503 else "internal_server_error"
        return json_response(status, error(code, "The service is temporarily unavailable."))
    if parsed is None:
        return json_response(404, error("not_found", lang=lang))
    handler = ROUTES.get((method, parsed[0]))
    if handler is None:
        return json_response(405, error("method_not_allowed", f"{method} is not allowed here."))
    call = _Call(sandbox, dialect, account, route, parsed[1], body, now, lang)
    with sandbox.world.lock:
        response = handler(call)
    if fault == "garbage" and response.status == 200:
        sandbox.counters.fault("garbage")
        response = replace(response, body=sandbox.injector.garbage(response.body))
    return response


def _json_body(call: _Call) -> Any:
    try:
        return json.loads(call.body or b"null")
    except ValueError:
        return ...


def _place(call: _Call) -> Response:
    payload = _json_body(call)
    if payload is ...:
        return json_response(400, error("bad_request", "The request body is not valid JSON."))
    try:
        fields = normalize_order(payload)
    except OrderInvalid as err:
        return json_response(422, error("invalid_order", str(err)))
    order = call.sandbox.world.place(call.account, fields)
    _touch(order, call.route)
    call.sandbox.dispatcher.wake()
    if call.dialect == "shippit":
        document = create_response(order, call.now, call.sandbox.links)
    else:
        document = render_document(order, call.now, call.sandbox.links)
    return json_response(200, wrap(call.dialect, document))


def _get(call: _Call) -> Response:
    order = call.find()
    if order is None:
        return call.not_found()
    # Get Order is unwrapped in both dialects (Shippit's documented example is).
    return json_response(200, render_document(order, call.now, call.sandbox.links))


def _cancel(call: _Call) -> Response:
    order = call.find()
    if order is None:
        return call.not_found()
    state = order.state_at(call.now)
    if state not in CANCELLABLE:
        body = error("order_cannot_be_cancelled", lang=call.lang, order_state=state)
        return json_response(422, body)
    call.sandbox.world.cancel(order, call.now)
    call.sandbox.dispatcher.wake()
    # The whole cancelled order, as the published example answers.
    return json_response(200, wrap(call.dialect, cancel_response(order, call.now)))


def _label(call: _Call) -> Response:
    order = call.find()
    if order is None:
        return call.not_found()
    if not order.allocated(call.now):
        # The documented codes: still processing, or processing ended without a courier.
        processing = order.state_at(call.now) == "processing"
        code = LABEL_NOT_AVAILABLE if processing else LABEL_FAILED_PROCESSING
        return json_response(422, error(code, lang=call.lang))
    return json_response(
        200, wrap(call.dialect, label_response(order, call.now, call.sandbox.links))
    )


def _tracking(call: _Call) -> Response:
    order = call.find()
    if order is None:
        return call.not_found()
    body = tracking_response(order, call.now, call.sandbox.links)
    return json_response(200, wrap(call.dialect, body))


def _book(call: _Call) -> Response:
    payload = _json_body(call)
    if payload is ...:
        return json_response(400, error("bad_request", "The request body is not valid JSON."))
    refs = payload.get("orders") if isinstance(payload, dict) else None
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        return json_response(422, error("invalid_orders", "orders must be a non-empty list."))
    if len(refs) > MAX_BOOKING:
        text = f"At most {MAX_BOOKING} orders can be booked at once, got {len(refs)}."
        return json_response(422, error("too_many_orders", text))
    world = call.sandbox.world
    found = {ref: world.find(ref, call.account.api_key) for ref in dict.fromkeys(refs)}
    unknown = [ref for ref, order in found.items() if order is None]
    if unknown:
        text = "Unknown orders: " + ", ".join(unknown)
        return json_response(422, error("invalid_orders", text, orders=unknown))
    orders = [o for o in found.values() if o is not None]
    for order in orders:
        _touch(order, call.route)
    return json_response(200, wrap(call.dialect, _manifests(call, orders)))


def _manifests(call: _Call, orders: list[SandboxOrder]) -> list[dict[str, Any]]:
    """One entry per courier, as the published example: booked ones with their manifest,
    refused ones (a courier switched off by the ``failing_manifests`` fault, orders
    without a label, cancelled orders) with ``error``, ``error_description``, ``orders``."""
    world, links, now = call.sandbox.world, call.sandbox.links, call.now
    failing = set(call.sandbox.faults.failing_manifests)
    entries: list[dict[str, Any]] = []
    unready = [o.ref for o in orders if not o.allocated(now) or o.state_at(now) == "cancelled"]
    if unready:
        entries.append(
            {
                "courier": None,
                "success": False,
                "order_count": len(unready),
                "error": "orders_not_ready",
                "error_description": "Orders without a label or cancelled cannot be booked: "
                + ", ".join(unready),
                "orders": unready,
            }
        )
    by_courier: dict[str, list[SandboxOrder]] = {}
    for order in orders:
        if order.ref not in unready:
            by_courier.setdefault(courier_name(order), []).append(order)
    for courier, group in by_courier.items():
        refs = [o.ref for o in group]
        if courier in failing or group[0].courier in failing:
            entries.append(
                {
                    "courier": courier,
                    "success": False,
                    "order_count": len(group),
                    "error": "courier_booking_failed",
                    "error_description": f"{courier} could not take the booking; try again later.",
                    "orders": refs,
                }
            )
            continue
        manifest = world.book(call.account.api_key, group, now)
        entries.append(
            {
                "courier": courier,
                "manifest": manifest.manifest_id,
                "manifest_pdf": links.manifest_url(manifest.manifest_id, now),
                "order_count": len(group),
                "success": True,
            }
        )
    call.sandbox.dispatcher.wake()
    return entries


def _merchant(call: _Call) -> Response:
    account = call.account
    if call.route.startswith("PUT"):
        payload = _json_body(call)
        merchant = payload.get("merchant") if isinstance(payload, dict) else None
        url = merchant.get("webhook_url") if isinstance(merchant, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            text = "merchant.webhook_url must be an http(s) URL."
            return json_response(422, error("invalid_merchant", text))
        account.callback_url = url
    body = merchant_response(account.api_key, account.dialect, account.callback_url)
    return json_response(200, wrap(call.dialect, body))


def _quotes(call: _Call) -> Response:
    payload = _json_body(call)
    if payload is ...:
        return json_response(400, error("bad_request", "The request body is not valid JSON."))
    try:
        entries = quotes_response(payload)
    except QuoteInvalid as err:
        return json_response(400, error("bad_request", str(err)))
    return json_response(200, {"response": entries, "count": len(entries)})


ROUTES: dict[tuple[str, str], Callable[[_Call], Response]] = {
    ("POST", "/orders"): _place,
    ("GET", "/orders/{ref}"): _get,
    ("DELETE", "/orders/{ref}"): _cancel,
    ("GET", "/orders/{ref}/label"): _label,
    ("GET", "/orders/{ref}/tracking"): _tracking,
    ("POST", "/book"): _book,
    ("GET", "/merchant"): _merchant,
    ("PUT", "/merchant"): _merchant,
    ("POST", "/quotes"): _quotes,
}
