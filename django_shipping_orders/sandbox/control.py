"""Everything outside the provider API: label and manifest PDFs, tracking pages,
and the ``/_sandbox/`` control API.

None of these routes take an API key or suffer injected faults: PDFs are
reached through pre-signed URLs, as at the providers, and the control API is
how tests steer and inspect the sandbox.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .dialects import error, receiver_lines
from .pdf import invoice_pdf, label_pdf, manifest_pdf
from .routes import Headers, Response, json_response
from .simulated_time import iso

if TYPE_CHECKING:
    from .server import SandboxServer


def handle_other(
    sandbox: SandboxServer,
    method: str,
    path: str,
    query: str,
    headers: Headers,
    body: bytes,
) -> Response:
    """Answer a request outside ``/api/...``."""
    now = sandbox.clock.now()
    if path.startswith("/_sandbox/"):
        route = f"{method} {path}"
        response = _control(sandbox, method, path[len("/_sandbox/") :].strip("/"), body)
    elif path.startswith("/labels/") and path.endswith(".pdf"):
        route = f"{method} /labels/{{ref}}.pdf"
        response = _label_pdf(sandbox, path, query, now)
    elif path.startswith("/manifests/") and path.endswith(".pdf"):
        route = f"{method} /manifests/{{id}}.pdf"
        response = _manifest_pdf(sandbox, path, query, now)
    elif path.startswith("/documents/") and path.endswith(".pdf"):
        route = f"{method} /documents/{{ref}}/{{kind}}.pdf"
        response = _document_pdf(sandbox, path, query, now)
    elif path.startswith("/tracking/"):
        route = f"{method} /tracking/{{ref}}"
        response = _tracking_page(sandbox, unquote(path[len("/tracking/") :]), now)
    elif path in ("", "/"):
        route = f"{method} /"
        response = json_response(200, _index(sandbox))
    else:
        route = f"{method} /*"
        response = json_response(404, error("not_found"))
    sandbox.counters.record(route, None, response.status, now)
    return response


def _index(sandbox: SandboxServer) -> dict[str, Any]:
    return {
        "sandbox": "django-shipping-orders provider sandbox",
        "shippit_url": sandbox.shippit_url,
        "senderlv_url": sandbox.senderlv_url,
        "control": f"{sandbox.url}/_sandbox/",
    }


def _forbidden() -> Response:
    return json_response(403, error("access_denied", "The link is invalid or has expired."))


def _label_pdf(sandbox: SandboxServer, path: str, query: str, now: float) -> Response:
    if not sandbox.links.verify(path, query, now):
        return _forbidden()
    ref = unquote(path[len("/labels/") : -len(".pdf")])
    with sandbox.world.lock:
        order = sandbox.world.orders.get(ref)
        if order is None or not order.allocated(now):
            return json_response(404, error("not_found"))
        data = label_pdf(
            order.ref,
            order.courier,
            order.courier_job_id,
            receiver_lines(order),
            order.label_numbers,
        )
    return Response(200, data, "application/pdf")


def _manifest_pdf(sandbox: SandboxServer, path: str, query: str, now: float) -> Response:
    if not sandbox.links.verify(path, query, now):
        return _forbidden()
    manifest_id = unquote(path[len("/manifests/") : -len(".pdf")])
    with sandbox.world.lock:
        manifest = sandbox.world.manifests.get(manifest_id)
        if manifest is None:
            return json_response(404, error("not_found"))
        rows = []
        for ref in manifest.refs:
            order = sandbox.world.orders[ref]
            name = order.fields.get("receiver_name") or ""
            suburb = order.fields.get("delivery_suburb") or ""
            rows.append(f"{ref}   {order.courier}   {order.courier_job_id}   {name}, {suburb}")
        data = manifest_pdf(manifest.manifest_id, iso(manifest.booked_at) or "", rows)
    return Response(200, data, "application/pdf")


def _document_pdf(sandbox: SandboxServer, path: str, query: str, now: float) -> Response:
    """A label document other than the label: the customs invoice of an international order."""
    if not sandbox.links.verify(path, query, now):
        return _forbidden()
    ref, _, kind = unquote(path[len("/documents/") : -len(".pdf")]).rpartition("/")
    with sandbox.world.lock:
        order = sandbox.world.orders.get(ref)
        if order is None or kind != "commercial_invoice" or not order.allocated(now):
            return json_response(404, error("not_found"))
        items = [
            f"{p.get('quantity') or 1} x {p.get('title') or p.get('sku') or 'item'}"
            f"  {p.get('price') if p.get('price') is not None else ''}"
            for p in order.fields.get("product_attributes") or []
        ]
        data = invoice_pdf(order.ref, receiver_lines(order), items)
    return Response(200, data, "application/pdf")


def _tracking_page(sandbox: SandboxServer, ref: str, now: float) -> Response:
    with sandbox.world.lock:
        order = sandbox.world.orders.get(ref)
        if order is None:
            return Response(404, b"<h1>Unknown tracking number</h1>", "text/html; charset=utf-8")
        rows = "".join(
            f"<tr><td>{html.escape(iso(when) or '')}</td>"
            f"<td>{html.escape(state.replace('_', ' ').title())}</td></tr>"
            for state, when in reversed(order.history_at(now))
        )
        courier = html.escape(order.courier if order.allocated(now) else "not allocated yet")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Tracking {html.escape(ref)}"
        f"</title></head><body><h1>Tracking {html.escape(ref)}</h1><p>Courier: {courier}</p>"
        f"<table>{rows}</table></body></html>"
    )
    return Response(200, page.encode(), "text/html; charset=utf-8")


class _BadRequest(ValueError):
    pass


def _payload(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as err:
        raise _BadRequest("the body is not valid JSON") from err
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _number(data: Mapping[str, Any], key: str) -> float:
    try:
        return float(data[key])
    except (KeyError, TypeError, ValueError) as err:
        raise _BadRequest(f"{key} must be a number") from err


def _control(sandbox: SandboxServer, method: str, name: str, body: bytes) -> Response:
    try:
        return _control_route(sandbox, method, name, body)
    except (_BadRequest, ValueError, TypeError) as err:
        return json_response(400, error("bad_request", str(err)))


def _control_route(sandbox: SandboxServer, method: str, name: str, body: bytes) -> Response:
    if name == "accounts" and method == "GET":
        return json_response(200, [a.to_dict() for a in sandbox.accounts()])
    if name == "accounts" and method == "POST":
        data = _payload(body)
        allowed = {"api_key", "dialect", "callback_url", "secret_header", "secret", "rate_limit"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise _BadRequest(f"unknown field(s): {', '.join(unknown)}")
        if "api_key" not in data:
            raise _BadRequest("api_key is required")
        key = data.pop("api_key")
        return json_response(201, sandbox.add_account(key, **data).to_dict())
    if name == "advance" and method == "POST":
        sandbox.advance(_number(_payload(body), "seconds"))
        return json_response(200, sandbox.clock_info())
    if name == "process_all" and method == "POST":
        advanced = sandbox.process_all()
        return json_response(200, {"advanced": advanced, **sandbox.clock_info()})
    if name == "clock" and method == "GET":
        return json_response(200, sandbox.clock_info())
    if name == "clock" and method == "POST":
        sandbox.set_speed(_number(_payload(body), "speed"))
        return json_response(200, sandbox.clock_info())
    if name == "settings" and method == "POST":
        sandbox.cancel_share = _number(_payload(body), "cancel_share")
        return json_response(200, {"cancel_share": sandbox.cancel_share})
    if name == "faults" and method == "GET":
        return json_response(200, sandbox.faults.to_dict())
    if name == "faults" and method == "POST":
        return json_response(200, sandbox.set_faults(**_payload(body)).to_dict())
    if name == "stats" and method == "GET":
        return json_response(200, sandbox.stats())
    if name == "stats" and method == "DELETE":
        sandbox.reset_stats()
        return json_response(200, sandbox.stats())
    if name == "orders" and method == "GET":
        return json_response(200, sandbox.orders())
    if name.startswith("orders/") and method == "GET":
        info = sandbox.order_info(name[len("orders/") :])
        if info is None:
            return json_response(404, error("not_found"))
        return json_response(200, info)
    return json_response(404, error("not_found", f"No control route {method} /_sandbox/{name}"))
