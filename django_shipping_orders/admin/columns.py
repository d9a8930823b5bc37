"""The order admin's columns and detail fields: how one order reads, in the list and on its page.

A mixin of ``OrderAdmin``. Every column reads only the order's own row, so the
list runs the same queries for 10 orders as for 100 000. The list fits a
1 280-pixel screen: two lines per cell, with the time of the last sync under
the state, and between them the reason when the order needs a person.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from .. import couriers
from ..models import Order
from ..utils import safe_web_url
from . import attention
from .display import (
    DOC_ICON,
    badge,
    label_url,
    local_time,
    money,
    page_url,
    pretty_json,
    state_badge,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _receiver_time(field: str, description: StrOrPromise) -> Callable[[Any, Order], str]:
    """A detail field showing the order's ``field`` in the receiver's time zone."""

    @admin.display(description=description)
    def show(model_admin: Any, order: Order) -> str:
        return local_time(getattr(order, field), order.delivery_timezone) or "—"

    return show


def _ago(moment: Any) -> str:
    return str(_("%s ago")) % timesince(moment, depth=1)


class OrderColumns:
    """Columns of the order list and read-only fields of the order page."""

    # -- list columns ------------------------------------------------------------------

    @admin.display(description=_("order"), ordering="reference")
    def reference_display(self, order: Order) -> str:
        if order.reference:
            head = format_html('<span class="so-ref">{}</span>', order.reference)
        else:
            head = format_html(
                '<span class="so-placement so-placement--{}" title="{}">{}</span>',
                order.placement,
                order.get_placement_display(),
                _("not placed"),
            )
        return format_html(
            '{}<br><span class="so-muted">{}</span>', head, order.retailer_reference or "—"
        )

    @admin.display(description=_("receiver"), ordering="receiver_name")
    def receiver(self, order: Order) -> str:
        place = " ".join(part for part in (order.delivery_suburb, order.delivery_postcode) if part)
        return format_html(
            '{}<br><span class="so-muted">{}</span>',
            order.receiver_name or "—",
            place,
        )

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, order: Order) -> str:
        return self.state_or_placement(order)

    @admin.display(description=_("state"), ordering="state")
    def state_column(self, order: Order) -> str:
        """The badge; under it why the order needs a person, and when it was last synced."""
        reasons = format_html_join(
            "",
            '<span class="so-reason" title="{}">{}</span>',
            ((reason, reason) for reason in attention.reasons_for(order)),
        )
        return format_html(
            '{}{}<span class="so-muted so-line">{}</span>',
            self.state_or_placement(order),
            reasons,
            self.synced_text(order),
        )

    def state_or_placement(self, order: Order) -> str:
        """The state badge, or for an order the provider never took, how placing it went."""
        if not order.state and order.placement in (
            Order.Placement.REJECTED,
            Order.Placement.UNKNOWN,
        ):
            tone = "problem" if order.placement == Order.Placement.REJECTED else "pending"
            text = _("Rejected") if order.placement == Order.Placement.REJECTED else _("Unknown")
            return badge(tone, order.get_placement_display(), text)
        return state_badge(order.state)

    @admin.display(description=_("courier"), ordering="courier")
    def courier_display(self, order: Order) -> str:
        fallback = order.courier_name or order.courier_allocation
        return couriers.display_name(order.courier, fallback) or "—"

    @admin.display(description=_("courier"), ordering="courier")
    def courier_and_tracking(self, order: Order) -> str:
        if not (order.courier_job_id or order.courier):
            return "—"
        return format_html("{}<br>{}", self.courier_display(order), self.tracking_number(order))

    @admin.display(description=_("tracking number"), ordering="courier_job_id")
    def tracking_number(self, order: Order) -> str:
        if not order.courier_job_id:
            return "—"
        url = safe_web_url(order.tracking_url)
        if not url:
            return order.courier_job_id
        return format_html(
            '<a class="so-track" href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            url,
            order.courier_job_id,
        )

    @admin.display(description=_("pickup (receiver's time)"), ordering="pickup_at")
    def pickup(self, order: Order) -> str:
        if not order.pickup_at:
            return "—"
        return format_html(
            '<span title="{}">{}</span>',
            order.delivery_timezone or _("site time zone"),
            local_time(order.pickup_at, order.delivery_timezone),
        )

    @admin.display(description=_("pickup"), ordering="pickup_at")
    def pickup_column(self, order: Order) -> str:
        """Day over time, in the receiver's zone: narrow enough for a full list."""
        if not order.pickup_at:
            return "—"
        return format_html(
            '<span title="{}">{}<br><span class="so-muted">{}</span></span>',
            _("%s (receiver's time)") % (order.delivery_timezone or _("site time zone")),
            local_time(order.pickup_at, order.delivery_timezone, "D j M"),
            local_time(order.pickup_at, order.delivery_timezone, "H:i T"),
        )

    @admin.display(description=_("label"), ordering="label")
    def label_link(self, order: Order) -> str:
        url = label_url(order) if order.label else ""
        if url:
            link = format_html(
                '<a class="so-label" href="{}" target="_blank" title="{}">{} PDF</a>',
                url,
                _("Open the label"),
                DOC_ICON,
            )
            if order.label_printed_at:
                return format_html(
                    '{}<br><span class="so-printed" title="{}">{}</span>',
                    link,
                    self.printed_text(order),
                    _("printed"),
                )
            return format_html(
                '{}<br><span class="so-muted" title="{}">{}</span>',
                link,
                _("Not printed yet"),
                _("to print"),
            )
        if order.label_error:
            return format_html(
                '<span class="so-reason" title="{}">{}</span>', order.label_error, _("failed")
            )
        if order.label_url or order.courier_job_id:
            return format_html('<span class="so-muted" title="{}">…</span>', _("Being downloaded"))
        return format_html('<span class="so-muted">{}</span>', "—")

    @admin.display(description=_("synced"), ordering="last_synced_at")
    def last_synced(self, order: Order) -> str:
        if not order.last_synced_at:
            return str(_("never"))
        return format_html(
            '<span title="{}">{}</span>',
            dateformat.format(timezone.localtime(order.last_synced_at), "Y-m-d H:i:s T"),
            _ago(order.last_synced_at),
        )

    def synced_text(self, order: Order) -> str:
        """``synced 5 minutes ago`` (or ``never synced``)."""
        if not order.last_synced_at:
            return str(_("never synced"))
        return str(_("synced %s")) % _ago(order.last_synced_at)

    def printed_text(self, order: Order) -> str:
        """When and by whom the label was last printed."""
        if not order.label_printed_at:
            return str(_("Not printed yet"))
        when = dateformat.format(timezone.localtime(order.label_printed_at), "D j M H:i")
        who = order.label_printed_by or _("someone")
        return str(_("Printed %(when)s by %(who)s")) % {"when": when, "who": who}

    @admin.display(description=_("label printed"))
    def label_printed(self, order: Order) -> str:
        return self.printed_text(order)

    def summary(self, order: Order) -> str:
        """The card on top of the order page: what a clerk looks for first."""
        facts = [
            (_("Courier"), self.courier_display(order)),
            (_("Tracking number"), self.tracking_number(order)),
            (_("Pickup (receiver's time)"), self.pickup(order)),
            (_("Receiver"), self.receiver(order)),
            (_("Label"), self.label_link(order)),
            (_("Last synced"), self.last_synced(order)),
        ]
        reasons = attention.reasons_for(order)
        if not reasons and order.placement in attention.BY_CODE:
            # A failed placement stays explained on its page after it leaves the view.
            reasons = [attention.BY_CODE[order.placement].explain(order, timezone.now())]
        alert = (
            format_html(
                '<div class="so-attention"><strong>{}</strong><ul>{}</ul></div>',
                _("Needs attention"),
                format_html_join("", "<li>{}</li>", ((reason,) for reason in reasons)),
            )
            if reasons
            else ""
        )
        return format_html(
            '<div class="so-summary"><div class="so-summary-head">'
            '<span class="so-summary-ref">{}</span>{}<span class="so-muted">{} · {}</span></div>'
            '{}<dl class="so-facts">{}</dl></div>',
            order.reference or order.get_placement_display(),
            self.state_or_placement(order),
            order.account,
            order.retailer_reference or "—",
            alert,
            format_html_join("", "<div><dt>{}</dt><dd>{}</dd></div>", facts),
        )

    # -- detail fields -----------------------------------------------------------------

    expected_delivery = _receiver_time("expected_delivery_at", _("expected delivery"))
    pickup_deadline = _receiver_time("pickup_deadline_at", _("pickup deadline"))
    dropoff = _receiver_time("dropoff_at", _("drop-off"))
    dropoff_deadline = _receiver_time("dropoff_deadline_at", _("drop-off deadline"))

    @admin.display(description=_("delivery address"))
    def address(self, order: Order) -> str:
        lines = [
            order.delivery_company,
            order.delivery_address,
            " ".join(
                p
                for p in (order.delivery_suburb, order.delivery_state, order.delivery_postcode)
                if p
            ),
            order.delivery_country_code,
        ]
        return (
            format_html_join(SafeString("<br>"), "{}", ((line,) for line in lines if line)) or "—"
        )

    @admin.display(description=_("label"))
    def label_preview(self, order: Order) -> StrOrPromise:
        url = label_url(order) if order.label else ""
        if url:
            return format_html(
                '<div class="so-label-box">'
                '<iframe class="so-label-frame" src="{}#view=Fit" title="{}"></iframe>'
                '<p class="so-label-links"><a class="button" href="{}">{}</a> '
                '<a href="{}" target="_blank">{}</a></p></div>',
                url,
                _("Label"),
                label_url(order, download=True),
                _("Download the label"),
                url,
                _("Open in a new tab"),
            )
        if order.label_url or order.courier_job_id:
            return _("The provider has a label; it is being downloaded.")
        return _("No label yet: the provider makes one once a courier is allocated.")

    @admin.display(description=_("shipping price"))
    def shipping_price(self, order: Order) -> str:
        if order.price is None:
            return "—"
        return f"{money(order.price)} {order.price_currency}".strip()

    @admin.display(description=_("manifest"))
    def manifest_link(self, order: Order) -> str:
        if not order.manifest_id:
            return "—"
        url = page_url("admin:shipping_orders_manifest_change", order.manifest_id)
        text = str(order.manifest)
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    @admin.display(description=_("customs"))
    def customs(self, order: Order) -> str:
        return (
            pretty_json(order.customs_clearance_attributes)
            if order.customs_clearance_attributes
            else "—"
        )

    @admin.display(description=_("callback receipts"))
    def callback_receipts(self, order: Order) -> str:
        receipts = list(order.callback_receipts.order_by("-received_at", "-pk")[:20])
        if not receipts:
            return "—"
        rows = []
        for receipt in receipts:
            url = page_url("admin:shipping_orders_callbackreceipt_change", receipt.pk)
            when = dateformat.format(timezone.localtime(receipt.received_at), "Y-m-d H:i:s")
            rows.append((url or "#", when, receipt.get_status_display()))
        return format_html(
            '<ul class="so-receipts">{}</ul>',
            format_html_join("", '<li><a href="{}">{}</a> — {}</li>', rows),
        )

    @admin.display(description=_("last payload from the provider"))
    def raw_json(self, order: Order) -> str:
        return pretty_json(order.raw)
