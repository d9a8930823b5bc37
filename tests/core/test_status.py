"""``shipping_orders_status``: the operator's console, its figures, its exit status."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.models import CallbackReceipt, Order
from django_shipping_orders.ratelimit import RateLimiter

pytestmark = pytest.mark.django_db


def status(*args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of the command, as a shell would see them."""
    out, err = StringIO(), StringIO()
    try:
        call_command("shipping_orders_status", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), err.getvalue()


def healthy_shop() -> None:
    now = timezone.now()
    Order.objects.create(account="default", reference="PP1", state="order_placed")
    Order.objects.create(account="default", reference="PP2", state="ready_for_pickup")
    Order.objects.create(account="default", reference="PP3", state="completed")
    Order.objects.create(
        account="default",
        reference="PP4",
        state="ready_for_pickup",
        courier_job_id="CJ4",
        next_refresh_at=now - timedelta(minutes=2),
    )
    CallbackReceipt.objects.create(account="default", body=b"{}", status="processed")
    CallbackReceipt.objects.create(account="default", body=b"{}", status="ignored")


def test_json_shows_every_figure_and_exits_0_when_healthy():
    healthy_shop()
    limiter = RateLimiter()
    account = shipping_settings.account("default")
    for _ in range(7):
        limiter.acquire(account).finish()

    code, out, _ = status("--json")

    assert code == 0
    report = json.loads(out)
    assert report["healthy"] is True and report["problems"] == []
    figures = report["accounts"]["default"]
    assert figures["open_orders"] == 3
    assert figures["open_by_state"] == {"order_placed": 1, "ready_for_pickup": 2}
    assert figures["due_now"] == 1
    assert 110 <= figures["oldest_due_age_seconds"] <= 200
    assert figures["requests_last_hour"] == 7
    assert figures["budget_per_hour"] == 3600
    assert figures["callbacks_last_24h"] == {"processed": 1, "ignored": 1}
    assert figures["callbacks_failed"] == 0
    assert figures["callbacks_waiting"] == 0 and figures["oldest_waiting_at"] is None
    assert figures["labels_pending"] == 1 and figures["labels_failed"] == 0


def test_a_failed_receipt_waiting_makes_it_unhealthy_with_status_1():
    healthy_shop()
    CallbackReceipt.objects.create(account="default", body=b"{", status="failed")

    code, out, err = status()

    assert code == 1
    assert "UNHEALTHY" in out
    assert "default: 1 failed callback(s) waiting to be reprocessed (more than 0)" in out
    assert "unhealthy: 1 problem(s)" in err
    assert status("--max-failed-callbacks", "1")[0] == 0
    assert status("--max-failed-callbacks", "off")[0] == 0


def test_a_callback_left_unprocessed_too_long_is_a_problem():
    receipt = CallbackReceipt.objects.create(account="default", body=b"{}", status="received")
    assert status()[0] == 0  # just arrived
    CallbackReceipt.objects.filter(pk=receipt.pk).update(
        received_at=timezone.now() - timedelta(minutes=25)
    )
    code, out, _ = status()
    assert code == 1
    assert "the oldest unprocessed callback has waited 25 min (more than 10 min)" in out
    assert status("--max-waiting-age", "1h")[0] == 0


def test_refreshes_falling_behind_are_a_problem():
    Order.objects.create(
        account="default",
        reference="PP9",
        state="in_transit",
        next_refresh_at=timezone.now() - timedelta(hours=2),
    )
    code, out, _ = status()
    assert code == 1
    assert "the oldest due order has waited 2.0 h for its refresh (more than 30 min)" in out
    assert status("--max-due-age", "3h")[0] == 0


def test_failed_label_downloads_are_a_problem():
    Order.objects.create(
        account="default",
        reference="PP5",
        state="ready_for_pickup",
        courier_job_id="CJ5",
        label_error="the file is not a PDF",
    )
    code, out, _ = status("--json")
    assert code == 1
    assert json.loads(out)["accounts"]["default"]["labels_failed"] == 1


def test_a_label_download_still_being_retried_is_not_a_failure_until_given_up():
    from django_shipping_orders.schedules import LABEL_ATTEMPTS, label_failure_text

    error = ""
    order = Order.objects.create(
        account="default", reference="PP6", state="ready_for_pickup", label_url="https://x/l.pdf"
    )
    for attempt in range(1, LABEL_ATTEMPTS + 1):
        error = label_failure_text(error, "HTTP 503")
        Order.objects.filter(pk=order.pk).update(label_error=error)
        code, out, _ = status("--json")
        figures = json.loads(out)["accounts"]["default"]
        if attempt < LABEL_ATTEMPTS:
            assert (figures["labels_retrying"], figures["labels_failed"], code) == (1, 0, 0)
        else:
            assert (figures["labels_retrying"], figures["labels_failed"], code) == (0, 1, 1)
    assert "0 retrying, 1 failed" in status()[1]


def test_the_text_report_names_each_figure():
    healthy_shop()
    code, out, _ = status()
    assert code == 0
    assert "Account default (shippit, 60/60s)" in out
    assert "open orders        3 (order placed 1, ready for pickup 2)" in out
    assert "due for refresh    1; oldest due" in out
    assert "requests last hour 0 of 3600 (0%)" in out
    assert "callbacks, 24 h    2 received (1 ignored, 1 processed)" in out
    assert "label downloads    1 pending, 0 retrying, 0 failed" in out
    assert out.rstrip().endswith("Healthy.")


@pytest.mark.parametrize(
    "args", [("--max-due-age", "soon"), ("--max-failed-callbacks", "-1"), ("--account", "nope")]
)
def test_bad_arguments_exit_2(args):
    code, _, message = status(*args)
    assert code == 2
    assert message
