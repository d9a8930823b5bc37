"""The order admin: what the clerk sees, what each permission allows, and how many queries it costs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_shipping_orders import services
from django_shipping_orders.exceptions import OrderCannotBeCancelled, ProviderUnavailable
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent, Parcel, Product

from .conftest import READY_FOR_PICKUP, make_pdf, pdf_page_texts

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:shipping_orders_order_changelist"


def change_url(order: Order) -> str:
    return reverse("admin:shipping_orders_order_change", args=[order.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- the list ------------------------------------------------------------------------------


def test_changelist_shows_badge_tracking_link_pickup_in_receivers_time_and_label(
    client, viewer, make_order
):
    order = make_order(
        **READY_FOR_PICKUP,
        label=make_pdf("label"),
        last_synced_at=timezone.now() - timedelta(minutes=5),
    )
    client.force_login(viewer)
    html = client.get(reverse(CHANGELIST)).content.decode()

    assert 'class="so-badge so-badge--ready"' in html
    assert "Ready for pickup" in html
    assert 'href="https://track.example/CPX123"' in html
    # 21:59 UTC on the 29th is the morning of the 30th in Australia/Sydney.
    assert 'Tue 30 Dec<br><span class="so-muted">08:59 AEDT</span>' in html
    assert reverse("shipping_orders:label", args=[order.pk]) in html
    assert "CouriersPlease" in html
    assert "5\xa0minutes ago" in html


def test_a_tracking_url_that_is_not_http_is_not_linked(client, viewer, make_order):
    make_order(courier_job_id="CPX9", tracking_url="javascript:alert(1)")
    client.force_login(viewer)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "CPX9" in html
    assert "javascript:alert" not in html


def test_unknown_state_is_shown_as_it_came(client, viewer, make_order):
    make_order(state="held_at_depot")
    client.force_login(viewer)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert 'so-badge--unknown" title="held_at_depot">Held at depot' in html


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("PP9001", "reference", "PP9001"),
        ("R-SHOP-77", "retailer_reference", "R-SHOP-77"),
        ("CPJOB55", "courier_job_id", "CPJOB55"),
        ("cpjob55", "courier_job_id", "CPJOB55"),  # a scanner that types lower case
    ],
)
def test_searching_one_reference_opens_its_order(client, viewer, make_order, query, field, value):
    wanted = make_order(**{field: value})
    make_order()
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": query})
    assert response.status_code == 302
    assert response["Location"] == change_url(wanted)


def test_a_scanned_parcel_label_number_lands_on_its_order(client, viewer, make_order):
    wanted = make_order()
    Parcel.objects.create(order=wanted, position=0, label_number="CPX0048213077001")
    other = make_order()
    Parcel.objects.create(order=other, position=0, label_number="CPX0048213077002")
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": "CPX0048213077001"}, follow=True)
    assert response.redirect_chain == [(change_url(wanted), 302)]
    assert response.context["original"] == wanted


def test_several_references_at_once_find_all_of_them(client, viewer, make_order):
    a = make_order(reference="PPAAA1")
    b = make_order(retailer_reference="SHOP-22")
    c = make_order(courier_job_id="CJ333")
    make_order()
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": "PPAAA1, SHOP-22  cj333,"})
    assert set(response.context["cl"].result_list) == {a, b, c}


def test_the_start_of_a_reference_finds_the_orders_it_begins(client, viewer, make_order):
    a = make_order(reference="PPXY0001")
    b = make_order(reference="PPXY0002")
    make_order(reference="PPZZ0003")
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": "PPXY"})
    assert set(response.context["cl"].result_list) == {a, b}


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("Marguerite", "receiver_name", "Marguerite Duras"),
        ("marguerite duras", "receiver_name", "Marguerite Duras"),
        ("md@example.org", "user_email", "md@example.org"),
        ("3053", "delivery_postcode", "3053"),
    ],
)
def test_search_finds_an_order_by(client, viewer, make_order, query, field, value):
    wanted = make_order(**{field: value})
    make_order()
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": query})
    assert list(response.context["cl"].result_list) == [wanted]


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("\ufeffCPJOB55", "courier_job_id", "CPJOB55"),  # a byte order mark pasted first
        ("CPJOB\u200b55\u00a0", "courier_job_id", "CPJOB55"),  # zero-width and no-break space
        (" PP9001\x00", "reference", "PP9001"),
        ("1011", "retailer_reference", "#1011"),  # a shop's order number without its sign
    ],
)
def test_invisible_characters_and_a_missing_hash_still_find_the_order(
    client, viewer, make_order, query, field, value
):
    wanted = make_order(**{field: value})
    make_order()
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": query})
    assert response.status_code == 302
    assert response["Location"] == change_url(wanted)


def test_a_nul_in_the_search_is_dropped_not_a_reason_to_show_everything(client, viewer, make_order):
    wanted = make_order(receiver_name="Marguerite Duras")
    make_order(receiver_name="Someone Else")
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": "Margue\x00rite"})
    assert list(response.context["cl"].result_list) == [wanted]


def test_filters_by_label_state_courier_account_and_pickup_day(client, viewer, make_order):
    today = timezone.localtime().replace(hour=12, minute=0)
    labelled = make_order(label=make_pdf("x"), state="ready_for_pickup", courier_allocation="DHL")
    picked_today = make_order(pickup_at=today, courier_allocation="TNT")
    other_account = make_order(account="second")
    client.force_login(viewer)

    def result(**params: str) -> set[Order]:
        return set(client.get(reverse(CHANGELIST), params).context["cl"].result_list)

    assert result(label="yes") == {labelled}
    assert labelled not in result(label="no")
    assert result(state="ready_for_pickup") == {labelled}
    assert result(courier_allocation="TNT") == {picked_today}
    assert result(account="second") == {other_account}
    assert result(pickup="today") == {picked_today}
    assert picked_today not in result(pickup="tomorrow")


def test_changelist_runs_the_same_queries_for_10_and_for_10000_orders(client, viewer, make_order):
    def bulk(count: int, start: int) -> None:
        Order.objects.bulk_create(
            [
                Order(
                    account="default",
                    reference=f"BULK{start + i}",
                    retailer_reference=f"R{start + i}",
                    state=("order_placed", "ready_for_pickup", "in_transit", "completed")[i % 4],
                    courier_allocation=("DHL", "TNT", "Aramex")[i % 3],
                    courier_job_id=f"CJ{start + i}",
                    tracking_url=f"https://track.example/{start + i}",
                    pickup_at=timezone.now() + timedelta(hours=i % 48),
                    delivery_timezone="Australia/Sydney",
                    label=f"shipping_labels/default/BULK{start + i}.pdf" if i % 2 else "",
                    last_synced_at=timezone.now(),
                )
                for i in range(count)
            ],
            batch_size=1000,
        )

    client.force_login(viewer)
    url = reverse(CHANGELIST)
    bulk(10, 0)
    cache.clear()  # both pages count afresh (the counts on top are cached for a while)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    bulk(9990, 10)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 10000
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# -- the detail page -------------------------------------------------------------------------


def test_detail_page_is_read_only_and_shows_everything(client, viewer, make_order):
    order = make_order(
        state="in_transit",
        label=make_pdf("label"),
        raw={"tracking_number": "PP1001", "state": "in_transit", "unknown_field": "kept"},
        customs_clearance_attributes={"incoterm": "DDP"},
    )
    Parcel.objects.create(order=order, position=0, qty=1, label_number="PARCELLABEL01")
    Product.objects.create(order=order, position=0, title="Blue mug", sku="MUG-1")
    receipt = CallbackReceipt.objects.create(account="default", body=b"{}", order=order)
    OrderEvent.objects.create(
        order=order,
        from_state="ready_for_pickup",
        to_state="in_transit",
        source="callback",
        occurred_at=timezone.now(),
        receipt=receipt,
    )
    client.force_login(viewer)
    response = client.get(change_url(order))
    html = response.content.decode()

    assert response.status_code == 200
    assert 'name="_save"' not in html  # nothing to save: the mirror is the provider's data
    assert "PARCELLABEL01" in html
    assert "Blue mug" in html
    assert "State history" in html and "so-badge--moving" in html
    assert "&quot;unknown_field&quot;: &quot;kept&quot;" in html  # raw JSON, pretty-printed
    assert "&quot;incoterm&quot;: &quot;DDP&quot;" in html
    label_url = reverse("shipping_orders:label", args=[order.pk])
    assert f'<iframe class="so-label-frame" src="{label_url}' in html
    assert f"{label_url}?download=1" in html
    assert "test-api-key-do-not-log" not in html
    assert "test-callback-secret" not in html


def test_detail_page_of_an_order_without_label_says_why(client, viewer, make_order):
    order = make_order(state="processing")
    client.force_login(viewer)
    html = client.get(change_url(order)).content.decode()
    assert "No label yet" in html
    assert "so-label-frame" not in html


def test_nobody_adds_or_deletes_orders_in_admin(client, admin_user, make_order):
    order = make_order()
    client.force_login(admin_user)
    assert client.get(reverse("admin:shipping_orders_order_add")).status_code == 403
    assert (
        client.get(reverse("admin:shipping_orders_order_delete", args=[order.pk])).status_code
        == 403
    )
    response = client.post(change_url(order), {"receiver_name": "Changed"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.receiver_name != "Changed"


# -- actions and their permissions ----------------------------------------------------------


def run_action(client, action: str, orders: list[Order], **extra: str):
    data = {"action": action, "_selected_action": [o.pk for o in orders], "index": "0", **extra}
    return client.post(reverse(CHANGELIST), data)


@pytest.fixture
def spy(monkeypatch):
    calls: list[tuple[str, str]] = []

    def record(name):
        def call(order, **kwargs):
            calls.append((name, order.reference))

        return call

    monkeypatch.setattr(services, "refresh_order", record("refresh"))
    monkeypatch.setattr(services, "cancel_order", record("cancel"))
    return calls


@pytest.mark.parametrize(
    ("action", "permission"),
    [
        ("refresh_from_provider", "refresh_order"),
        ("print_labels", "print_label"),
        ("cancel_at_provider", "cancel_order"),
        ("book_for_pickup", "book_order"),
    ],
)
def test_each_action_needs_its_own_permission(
    client, make_user, make_order, spy, action, permission
):
    order = make_order(label=make_pdf("label"))
    others = {"refresh_order", "print_label", "cancel_order", "book_order"} - {permission}
    without = make_user("without", perms=("view_order", *others))
    client.force_login(without)

    listing = client.get(reverse(CHANGELIST))
    assert action not in dict(listing.context["action_form"].fields["action"].choices)
    response = run_action(client, action, [order], post="yes")
    assert response.status_code == 302  # "no action selected", nothing done
    assert response.get("Content-Type", "").startswith("text/html")
    assert spy == []

    allowed = make_user("allowed", perms=("view_order", permission))
    client.force_login(allowed)
    assert action in dict(
        client.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices
    )


def test_refresh_action_applies_what_the_provider_says(
    client, clerk, make_order, label_account, scripted_server, get_order_200
):
    order = make_order(account=label_account, state="order_placed")
    scripted_server.add(
        200, {**get_order_200, "tracking_number": order.reference, "state": "ready_for_pickup"}
    )
    client.force_login(clerk)
    response = run_action(client, "refresh_from_provider", [order])
    order.refresh_from_db()
    assert order.state == "ready_for_pickup"
    assert order.events.get().source == "admin"
    assert messages_of(response) == ["Refreshed 1 order."]


def test_refresh_failures_get_one_message_line_each(client, clerk, make_order, monkeypatch):
    orders = [make_order(), make_order(), make_order()]

    def refresh(order, **kwargs):
        if order.pk != orders[1].pk:
            raise ProviderUnavailable(f"GET orders/{order.reference} failed", account="default")

    monkeypatch.setattr(services, "refresh_order", refresh)
    client.force_login(clerk)
    response = run_action(client, "refresh_from_provider", orders)
    lines = messages_of(response)
    assert sorted(lines) == sorted(
        [
            f"{orders[0].reference}: GET orders/{orders[0].reference} failed",
            f"{orders[2].reference}: GET orders/{orders[2].reference} failed",
            "Refreshed 1 order.",
        ]
    )


def test_refresh_button_on_the_detail_page(client, clerk, viewer, make_order, spy):
    order = make_order()
    url = reverse("admin:shipping_orders_order_refresh", args=[order.pk])
    client.force_login(viewer)
    assert "Refresh from the provider" not in client.get(change_url(order)).content.decode()
    assert client.post(url).status_code == 403
    assert spy == []
    client.force_login(clerk)
    assert "Refresh from the provider" in client.get(change_url(order)).content.decode()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert spy == [("refresh", order.reference)]


def print_labels(client, orders: list[Order]):
    """Select ``orders``, choose "Print labels…", then press Print on the confirmation page."""
    confirm = run_action(client, "print_labels", orders)
    assert confirm.status_code == 200
    ids = [order.pk for order in confirm.context["printable"]]
    response = client.post(
        reverse(CHANGELIST),
        {"action": "print_labels", "_selected_action": ids, "post": "yes"},
    )
    return confirm, response


def test_print_labels_asks_first_then_gives_one_pdf_in_the_listed_order(client, clerk, make_order):
    now = timezone.now()
    # The list shows the newest first: that is the order the labels come out in.
    old = make_order(label=make_pdf("old label"))
    new = make_order(label=make_pdf("new label p1", "new label p2"))
    unlabelled = make_order()
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=2))
    Order.objects.filter(pk=new.pk).update(created_at=now - timedelta(hours=1))
    client.force_login(clerk)

    confirm, response = print_labels(client, [old, new, unlabelled])

    html = confirm.content.decode()
    assert "Print these labels?" in html
    assert "<strong>2 labels</strong> will be printed" in html
    assert f"<strong>{unlabelled.reference}</strong> (no stored label yet)" in html
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert pdf_page_texts(response.content) == ["new label p1", "new label p2", "old label"]


def test_printing_a_selection_with_a_cancelled_order_prints_only_the_others_and_names_it(
    client, clerk, make_order
):
    ready = make_order(state="ready_for_pickup", courier_job_id="CJ1", label=make_pdf("ready"))
    cancelled = make_order(state="cancelled", label=make_pdf("cancelled"))
    voided = make_order(state="untrackable", label=make_pdf("untrackable, never shipped"))
    client.force_login(clerk)

    confirm, response = print_labels(client, [ready, cancelled, voided])

    html = confirm.content.decode()
    assert "<strong>1 label</strong> will be printed." in html
    assert "2 orders are left out:" in html
    assert f"<strong>{cancelled.reference}</strong> (cancelled)" in html
    assert f"<strong>{voided.reference}</strong> (final without a shipment)" in html
    assert [o.pk for o in confirm.context["printable"]] == [ready.pk]
    assert pdf_page_texts(response.content) == ["ready"]
    assert set(Order.objects.exclude(label_printed_at=None).values_list("pk", flat=True)) == {
        ready.pk
    }


def test_a_printed_label_is_marked_with_when_and_by_whom(client, clerk, make_order):
    order = make_order(label=make_pdf("label"))
    waiting = make_order(label=make_pdf("other"))
    client.force_login(clerk)
    before = timezone.now()

    print_labels(client, [order])

    order.refresh_from_db()
    assert order.label_printed_by == "clerk"
    assert before <= order.label_printed_at <= timezone.now()
    unprinted = client.get(reverse(CHANGELIST), {"label": "unprinted"}).context["cl"]
    assert list(unprinted.result_list) == [waiting]
    page = client.get(change_url(order)).content.decode()
    assert "by clerk" in page
    again = run_action(client, "print_labels", [order]).content.decode()
    assert "1 label was printed before and will be printed again." in again


def test_print_todays_pickups_not_printed_yet_in_one_click(client, clerk, viewer, make_order):
    today = timezone.localtime().replace(hour=15, minute=0, second=0, microsecond=0)
    due = make_order(pickup_at=today, label=make_pdf("due today"))
    make_order(pickup_at=today, label=make_pdf("printed"), label_printed_at=timezone.now())
    make_order(pickup_at=today + timedelta(days=1), label=make_pdf("tomorrow"))
    make_order(pickup_at=today, state="cancelled", label=make_pdf("cancelled"))
    make_order(pickup_at=today)  # no label yet
    url = reverse("admin:shipping_orders_order_print_today")
    client.force_login(viewer)
    assert url not in client.get(reverse(CHANGELIST)).content.decode()
    assert client.get(url).status_code == 403

    client.force_login(clerk)
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert "Print today's pickup not printed yet (1)" in listing
    confirm = client.get(url)
    assert [o.pk for o in confirm.context["printable"]] == [due.pk]
    assert confirm.context["skipped"] == []


def test_cancel_asks_for_confirmation_then_shows_the_providers_refusal(
    client, clerk, make_order, monkeypatch
):
    moving = make_order(state="in_transit")
    waiting = make_order(state="order_placed")
    done = make_order(state="completed")
    cancelled = []

    def cancel(order, **kwargs):
        if order.pk == moving.pk:
            raise OrderCannotBeCancelled(
                "DELETE refused",
                code="order_cannot_be_cancelled",
                description="Order is already in transit",
                order_state="in_transit",
            )
        cancelled.append(order.pk)

    monkeypatch.setattr(services, "cancel_order", cancel)
    client.force_login(clerk)

    confirm = run_action(client, "cancel_at_provider", [moving, waiting, done])
    assert confirm.status_code == 200
    assert "Cancel these orders at the provider?" in confirm.content.decode()
    assert cancelled == []

    response = run_action(client, "cancel_at_provider", [moving, waiting, done], post="yes")
    assert cancelled == [waiting.pk]
    assert sorted(messages_of(response)) == sorted(
        [
            f"{moving.reference}: the provider refused to cancel it: Order is already in transit "
            "(state at the provider: in transit)",
            f"{done.reference}: already delivered; nothing to cancel.",
            "Cancelled 1 order.",
        ]
    )


def test_book_for_pickup_reports_a_provider_without_booking(client, clerk, settings, make_order):
    settings.SHIPPING_ORDERS = {
        **settings.SHIPPING_ORDERS,
        "ACCOUNTS": {**settings.SHIPPING_ORDERS["ACCOUNTS"], "lv": {"PROVIDER": "senderlv"}},
    }
    order = make_order(account="lv")
    client.force_login(clerk)
    response = run_action(client, "book_for_pickup", [order])
    [line] = messages_of(response)
    assert line.startswith(f"{order.reference}: not booked:")
    assert Order.objects.get(pk=order.pk).booked_at is None


# -- the label view -----------------------------------------------------------------------


def test_label_view_serves_only_staff_with_the_view_permission(client, make_user, make_order):
    order = make_order(label=make_pdf("label"))
    url = reverse("shipping_orders:label", args=[order.pk])

    response = client.get(url)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]

    client.force_login(make_user("staff-without-view"))
    assert client.get(url).status_code == 403

    client.force_login(make_user("customer", staff=False, perms=("view_order",)))
    assert client.get(url).status_code == 403

    client.force_login(make_user("clerk2", perms=("view_order",)))
    response = client.get(url)
    assert response.status_code == 200
    response.close()


def test_label_view_answers_404_without_a_label(client, viewer, make_order):
    order = make_order()
    client.force_login(viewer)
    assert client.get(reverse("shipping_orders:label", args=[order.pk])).status_code == 404
    assert client.get(reverse("shipping_orders:label", args=[987654])).status_code == 404


@pytest.mark.parametrize("selected", ["abc", "", "1.5", "99999999999999999999"])
@pytest.mark.parametrize(
    ("url", "action"),
    [
        (CHANGELIST, "print_labels"),
        (CHANGELIST, "refresh_from_provider"),
        (CHANGELIST, "cancel_at_provider"),
        (CHANGELIST, "book_for_pickup"),
        (CHANGELIST, "print_labels_and_documents"),
        ("admin:shipping_orders_callbackreceipt_changelist", "reprocess"),
    ],
)
def test_a_crafted_selection_is_sent_back_with_a_message(
    client, admin_user, make_order, spy, url, action, selected
):
    order = make_order()
    client.force_login(admin_user)
    data = {"action": action, "_selected_action": [selected], "index": "0", "post": "yes"}
    response = client.post(reverse(url), data, follow=False)
    assert response.status_code == 302
    assert "select the items again" in " ".join(messages_of(response))
    assert spy == []
    assert Order.objects.get(pk=order.pk).state == order.state
