"""The clerk's desk: what needs a person, counts at a glance, readable states, a list that stays cheap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_shipping_orders.admin import attention, listing
from django_shipping_orders.admin.filters import distinct_values
from django_shipping_orders.models import Order

from .conftest import make_pdf

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:shipping_orders_order_changelist"


def change_url(order: Order) -> str:
    return reverse("admin:shipping_orders_order_change", args=[order.pk])


@pytest.fixture
def troubles(make_order):
    """One order for each reason a person is needed, and two that are fine."""
    now = timezone.now()
    long_ago = now - timedelta(hours=5)
    orders = {
        "rejected": make_order(
            reference=None,
            placement=Order.Placement.REJECTED,
            state="",
            last_error="delivery_postcode: is not a valid postcode",
        ),
        "unknown": make_order(
            reference=None,
            placement=Order.Placement.UNKNOWN,
            state="",
            last_error="The provider did not answer within 20 s",
        ),
        "needed": make_order(state="pickup_failed", label=make_pdf("s")),
        "missed_pickup": make_order(
            state="ready_for_pickup", pickup_at=now - timedelta(hours=4), label=make_pdf("m")
        ),
        "label_failed": make_order(
            state="ready_for_pickup", label_error="the file is not a PDF", courier_job_id="CJ9"
        ),
        "label_overdue": make_order(state="order_placed"),
        "refresh_failing": make_order(
            state="in_transit", label=make_pdf("x"), refresh_failures=4, last_error="503 from GET"
        ),
        "fine": make_order(state="in_transit", label=make_pdf("y")),
        "fresh": make_order(state="order_placed"),  # placed minutes ago: no label is normal
    }
    overdue = [orders["label_overdue"].pk, orders["missed_pickup"].pk, orders["needed"].pk]
    Order.objects.filter(pk__in=overdue).update(created_at=long_ago)
    for order in orders.values():
        order.refresh_from_db()
    return orders


def test_needs_attention_lists_each_order_with_why(client, viewer, troubles):
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"attention": "any"})
    found = set(response.context["cl"].result_list)
    assert found == {order for code, order in troubles.items() if code not in ("fine", "fresh")}
    html = response.content.decode()
    assert "Rejected by the provider: delivery_postcode: is not a valid postcode" in html
    assert "May or may not exist at the provider: check there" in html
    assert "Pickup failed: The courier did not collect the parcel" in html
    assert "Pickup was due" in html and "still ready for pickup" in html
    assert "Label download failed: the file is not a PDF" in html
    assert "No label 5\xa0hours after placing" in html
    assert "4 refreshes failed: 503 from GET" in html


@pytest.mark.parametrize(
    "code",
    [
        "rejected",
        "unknown",
        "needed",
        "missed_pickup",
        "label_failed",
        "label_overdue",
        "refresh_failing",
    ],
)
def test_needs_attention_for_one_reason(client, viewer, troubles, code):
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"attention": code})
    assert list(response.context["cl"].result_list) == [troubles[code]]


def test_counts_on_top_of_the_list_without_asking_for_them(client, viewer, troubles):
    client.force_login(viewer)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert 'Needs attention <span class="so-count">7</span>' in html
    # Open orders per state, in the order of the happy path, humanised.
    assert 'Order placed <span class="so-count">2</span>' in html
    assert html.index("Order placed") < html.index("Ready for pickup") < html.index("In transit")
    assert attention.counts(fresh=True) == {
        "total": 7,
        "rejected": 1,
        "unknown": 1,
        "needed": 1,
        "missed_pickup": 1,
        "label_failed": 1,
        "label_overdue": 1,
        "refresh_failing": 1,
    }


def test_the_apps_index_page_says_how_many_orders_need_attention(
    client, viewer, make_user, troubles
):
    url = reverse("admin:app_list", args=["shipping_orders"])
    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert 'Orders that need attention <span class="so-count">7</span>' in html
    assert "?attention=any" in html
    client.force_login(make_user("receipts-only", perms=("view_callbackreceipt",)))
    assert "Orders that need attention" not in client.get(url).content.decode()


def test_counts_are_reused_for_half_a_minute_then_counted_again(client, viewer, make_order):
    make_order(state="pickup_failed")
    client.force_login(viewer)
    client.get(reverse(CHANGELIST))
    make_order(state="pickup_failed")
    assert attention.counts()["total"] == 1  # still the cached figure
    cache.delete(attention.COUNTS_CACHE_KEY)  # what the 30 s expiry does
    assert attention.counts()["total"] == 2


def test_a_rejected_order_shows_its_reason_in_the_list_and_on_top_of_its_page(
    client, viewer, troubles
):
    rejected = troubles["rejected"]
    client.force_login(viewer)
    listing_html = client.get(reverse(CHANGELIST)).content.decode()
    assert "so-placement--rejected" in listing_html
    assert "Rejected by the provider: delivery_postcode: is not a valid postcode" in listing_html
    page = client.get(change_url(rejected)).content.decode()
    summary = page[page.index('class="so-summary"') :]
    assert summary.index("Needs attention") < summary.index("so-facts")
    assert "delivery_postcode: is not a valid postcode" in summary[: summary.index("so-facts")]


def test_an_old_rejection_leaves_the_view_but_keeps_its_reason_on_its_page(
    client, viewer, troubles
):
    rejected = troubles["rejected"]
    Order.objects.filter(pk=rejected.pk).update(created_at=timezone.now() - timedelta(days=30))
    client.force_login(viewer)
    found = client.get(reverse(CHANGELIST), {"attention": "any"}).context["cl"].result_list
    assert rejected not in found
    page = client.get(change_url(rejected)).content.decode()
    assert "Rejected by the provider: delivery_postcode: is not a valid postcode" in page


def test_states_read_as_words_on_every_page(client, clerk, make_order):
    moving = make_order(state="in_transit")
    client.force_login(clerk)
    data = {"action": "cancel_at_provider", "_selected_action": [moving.pk], "index": "0"}
    html = client.post(reverse(CHANGELIST), data).content.decode()
    assert ">In transit<" in html
    assert ">in_transit<" not in html
    filters = client.get(reverse(CHANGELIST)).content.decode()
    assert "?state=in_transit" in filters and ">In transit<" in filters


def test_filter_choices_come_from_settings_and_index_probes_not_distinct_scans(
    client, viewer, make_order, settings
):
    make_order(state="ready_for_pickup", courier_allocation="DHL", courier="dhl")
    make_order(state="held_at_depot", courier_name="Zoom Co", courier="zoomco")
    make_order(state="ready_for_pickup", courier_allocation="")
    settings.SHIPPING_ORDERS = {
        **settings.SHIPPING_ORDERS,
        "ACCOUNTS": {**settings.SHIPPING_ORDERS["ACCOUNTS"], "second": {"PROVIDER": "shippit"}},
    }
    assert distinct_values("courier") == ["dhl", "zoomco"]
    assert distinct_values("state") == ["held_at_depot", "order_placed", "ready_for_pickup"][::2]
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(CHANGELIST))
    sql = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert "DISTINCT" not in sql
    specs = {spec.title: spec for spec in response.context["cl"].filter_specs}
    assert [value for value, _ in specs["account"].lookup_choices] == ["default", "second"]
    assert [value for value, _ in specs["state"].lookup_choices] == [
        "ready_for_pickup",
        "held_at_depot",  # a state the table does not know comes last, as it came
    ]
    assert specs["courier"].lookup_choices == [("dhl", "DHL"), ("zoomco", "Zoom Co")]


def test_the_date_bar_reads_two_dates_instead_of_scanning(client, viewer, make_order):
    first = make_order()
    last = make_order()
    Order.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=800))
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST))
    html = response.content.decode()
    this_year = timezone.localtime().year
    years = [f"created_at__year={year}" for year in range(this_year - 2, this_year + 1)]
    assert all(year in html for year in years)
    month = client.get(reverse(CHANGELIST), {"created_at__year": this_year})
    this_month = timezone.localtime().month
    link = f"created_at__month={this_month}&amp;created_at__year={this_year}"
    assert link in month.content.decode()
    assert last in month.context["cl"].result_list


def test_the_count_stops_at_the_limit_and_says_so(client, viewer, make_order, monkeypatch):
    monkeypatch.setattr(listing.BoundedPaginator, "limit", 3)
    for _ in range(5):
        make_order()
    client.force_login(viewer)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "More than 3 shipping orders" in html
    monkeypatch.setattr(listing.BoundedPaginator, "limit", 10)
    assert "5 shipping orders" in client.get(reverse(CHANGELIST)).content.decode()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://…")
def test_word_search_uses_the_trigram_indexes_on_postgresql(client, viewer, make_order):
    from django_shipping_orders.admin import search

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [Order._meta.db_table]
        )
        names = {row[0] for row in cursor.fetchall()}
    assert {"shipping_order_receiver_trgm", "shipping_order_email_trgm"} <= names
    wanted = make_order(receiver_name="Marguerite Duras")
    make_order()
    found = search.words(Order.objects.all(), ["guerite"])
    assert list(found) == [wanted]
    with connection.cursor() as cursor:
        # A tiny table: make the planner show which indexes can answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = found.order_by().query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "shipping_order_receiver_trgm" in plan and "shipping_order_email_trgm" in plan
