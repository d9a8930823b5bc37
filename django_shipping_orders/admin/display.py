"""How the admin pages show things: state badges, local times, links, numbers, JSON.

Small functions returning safe HTML (or plain text), shared by the order admin,
its inlines and filters, and the callback receipt admin, so a badge or a time
looks the same on every page.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db.models import Model, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import states
from ..models import Order

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Badge tone of each lifecycle phase (``states.phase``); unknown states get the neutral tone.
PHASE_TONES: dict[str, str] = {
    "processing": "pending",
    "placed": "placed",
    "ready": "ready",
    "moving": "moving",
    "delivered": "done",
    "stopped": "stopped",
    "exception": "problem",
    "return": "problem",
}

#: A document icon for label links (inline, so the admin needs no extra static file).
DOC_ICON = SafeString(
    '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><path fill="currentColor" '
    'd="M4 1h5.5L13 4.5V14a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V2a1 1 0 0 1 1-1zm5 1v3h3zM5 8h6v1H5zm0 '
    '2h6v1H5zm0 2h4v1H5z"/></svg>'
)


def badge(tone: str, title: StrOrPromise, text: StrOrPromise) -> str:
    """A coloured badge in one of the tones of ``shipping_orders/admin.css``."""
    return format_html(
        '<span class="so-badge so-badge--{}" title="{}">{}</span>', tone, title, text
    )


def state_badge(state: str) -> str:
    """The state as a coloured badge (the raw state string stays in the title)."""
    tone = PHASE_TONES.get(states.phase(state), "unknown")
    return badge(tone, state or "", humanize_state(state))


def humanize_state(state: str) -> str:
    """A state as people read it: ``ready_for_pickup`` -> ``Ready for pickup``."""
    return states.label(state)


def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(value: datetime | None, zone_name: str, fmt: str = "D j M, H:i T") -> str:
    """``value`` in the receiver's time zone (the site's when unknown), as text."""
    if value is None:
        return ""
    zone = _zone(zone_name) or timezone.get_current_timezone()
    return dateformat.format(value.astimezone(zone), fmt)


def page_url(viewname: str, pk: Any) -> str:
    """The URL of an admin page, or "" when that admin is not installed."""
    try:
        return reverse(viewname, args=[pk])
    except NoReverseMatch:
        return ""


def label_url(order: Order, download: bool = False) -> str:
    """The URL of the order's stored label, or "" when the app's URLs are not installed."""
    try:
        url = reverse("shipping_orders:label", args=[order.pk])
    except NoReverseMatch:
        return ""
    return f"{url}?download=1" if download else url


def number(value: Decimal | None) -> str:
    """A stored measure without the padding zeros of its column (0.3000 -> 0.3)."""
    if value is None:
        return "—"
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    """An amount with its cents (15.9500 -> 15.95), more digits only when it has them."""
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else number(value)


def preformatted(text: str) -> str:
    """``text`` in a monospaced block, escaped."""
    return format_html('<pre class="so-json">{}</pre>', text)


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON, keys sorted, in a monospaced block."""
    return preformatted(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


class SelectionGuardMixin:
    """Refuse a crafted action selection (``abc``, ``""``, ``1.5``, a number past the column).

    Django hands the raw ``_selected_action`` values to ``pk__in``; a value the
    primary key cannot hold would end in a server error inside the action.
    Answered like an empty selection: back to the list, with a message.
    """

    model: type[Model]

    # Extra arguments pass through: Django 6.1 adds the action's location.
    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> Any:
        field = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk = field.to_python(value)
                field.run_validators(pk)
                if isinstance(pk, int) and not -(2**63) <= pk < 2**63:
                    raise ValueError("past a 64-bit column")  # SQLite has no range validator
            except (ValidationError, ValueError, TypeError):
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    _(
                        "The selection was not valid: select the items again. No items have been changed."
                    ),
                    messages.WARNING,
                )
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]


class ReadOnlyAdminMixin:
    """The mirror is the provider's data: nobody adds or edits it in the admin.

    Deleting is refused too unless the admin sets ``allow_delete`` (the
    callback log may be pruned by hand).
    """

    allow_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self.allow_delete:
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]


def private_pdf(stored: File, filename: str) -> FileResponse:
    """A stored PDF (label document, manifest) served inline to staff, never cached."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)[:120] or "document.pdf"
    response = FileResponse(stored.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{safe_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
