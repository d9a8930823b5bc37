"""Duplicates, reordering, crashes in processing, reprocessing, and verify mode."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_shipping_orders import sync
from django_shipping_orders.callbacks import process_receipt
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent
from tests.states import SHIPPIT_HAPPY_PATH

from .conftest import order_document, post, set_account, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


def _snapshot(order: Order) -> dict:
    order.refresh_from_db()
    return {
        "state": order.state,
        "updated_at": order.updated_at,
        "state_as_of": order.state_as_of,
        "events": list(order.events.values_list("pk", flat=True)),
        "parcels": list(order.parcels.values_list("pk", "label_number")),
    }


def test_duplicate_callback_changes_nothing_and_answers_200(client):
    first = post(client, order_document("PPDUP"))
    order = Order.objects.get()
    before = _snapshot(order)

    second = post(client, order_document("PPDUP"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "ignored"
    assert _snapshot(order) == before
    assert Order.objects.count() == 1
    original, duplicate = CallbackReceipt.objects.order_by("pk")
    assert duplicate.status == Status.IGNORED
    assert duplicate.error == f"duplicate of receipt {original.pk}"
    assert duplicate.dedupe_key == original.dedupe_key


def test_same_content_in_different_bytes_changes_nothing(client):
    post(client, webhook())
    order = Order.objects.get()
    before = _snapshot(order)

    response = post(client, b"  " + json.dumps(webhook(), indent=1).encode())

    assert response.status_code == 200
    after = _snapshot(order)
    # Only the refresh bookkeeping moves (the order was confirmed fresh); the data does not.
    assert {**after, "updated_at": None} == {**before, "updated_at": None}
    assert OrderEvent.objects.count() == 1


def test_older_webhook_arriving_late_never_regresses_the_order(client):
    assert post(client, webhook(upto="completed")).status_code == 200
    order = Order.objects.get()
    before = _snapshot(order)

    late = post(client, webhook(upto="in_transit"))

    assert late.status_code == 200
    assert late.json()["status"] == "ignored"
    assert _snapshot(order) == before
    receipt = CallbackReceipt.objects.order_by("pk").last()
    assert receipt.status == Status.IGNORED
    assert receipt.error.startswith("stale: known true at 2016-04-26T17:40:00")
    assert receipt.order == order


def test_webhooks_in_any_order_end_at_the_newest_state(client):
    states = SHIPPIT_HAPPY_PATH
    for state in [states[2], states[5], states[0], states[4], states[1], states[3]]:
        assert post(client, webhook(upto=state)).status_code == 200

    order = Order.objects.get()
    assert order.state == "completed"
    assert list(order.events.values_list("to_state", flat=True)) == [
        "completed",
        "ready_for_pickup",
    ]


def test_a_document_without_provider_times_is_known_true_at_its_arrival(client):
    # Sender.lv's callback has no status times: it is dated by its arrival (now) ...
    post(client, order_document("PPMIX", state="in_transit"))
    # ... so a webhook whose newest status is from 2016 is older, whatever its state.
    late = post(client, webhook("PPMIX", upto="with_driver"))

    assert late.json()["status"] == "ignored"
    assert Order.objects.get().state == "in_transit"


def test_crash_in_processing_answers_200_keeps_receipt_failed_and_reprocess_applies_it(
    client, monkeypatch, capsys
):
    def explode(*args, **kwargs):
        raise RuntimeError("database went away mid-apply")

    monkeypatch.setattr(sync, "apply_document", explode)
    response = post(client, webhook())

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.FAILED
    assert receipt.error == "RuntimeError: database went away mid-apply"
    assert "Traceback (most recent call last)" in receipt.traceback
    assert "explode" in receipt.traceback
    assert receipt.attempts == 1
    assert not Order.objects.exists()

    monkeypatch.undo()
    call_command("reprocess_shipping_callbacks", "--failed")

    receipt.refresh_from_db()
    assert receipt.status == Status.PROCESSED
    assert (receipt.attempts, receipt.error, receipt.traceback) == (2, "", "")
    assert Order.objects.get().state == "completed"
    assert receipt.order == Order.objects.get()
    assert (
        "Reprocessed 1 callback receipt: 1 processed, 0 ignored, 0 unprocessable, "
        "0 waiting to be tried again, 0 failed." in capsys.readouterr().out
    )


def test_crash_after_the_order_was_written_rolls_the_order_back(client, monkeypatch):
    """The apply and the receipt's outcome commit together or not at all."""
    import django_shipping_orders.callbacks.processing as callbacks

    real_finish = callbacks._finish

    def finish_then_crash(receipt, status, *args, **kwargs):
        if status == Status.PROCESSED:
            raise RuntimeError("crash after apply")
        return real_finish(receipt, status, *args, **kwargs)

    monkeypatch.setattr(callbacks, "_finish", finish_then_crash)
    assert post(client, webhook()).status_code == 200

    assert CallbackReceipt.objects.get().status == Status.FAILED
    assert not Order.objects.exists()


def test_a_receipt_reprocessed_twice_changes_nothing_the_second_time(client):
    post(client, webhook())
    receipt = CallbackReceipt.objects.get()
    order = Order.objects.get()
    before = _snapshot(order)

    result = process_receipt(receipt)

    assert result.status == Status.PROCESSED
    assert not result.sync.changed
    assert {**_snapshot(order), "updated_at": None} == {**before, "updated_at": None}


def test_reprocess_reports_failures_and_exits_non_zero(client, monkeypatch, capsys):
    post(client, webhook("PPA"))
    monkeypatch.setattr(sync, "apply_document", lambda *a, **k: 1 / 0)
    post(client, webhook("PPB"))
    failed = CallbackReceipt.objects.get(reference="PPB")

    with pytest.raises(CommandError, match="1 of 1 callback receipts failed"):
        call_command("reprocess_shipping_callbacks", "--failed")

    out, err = capsys.readouterr()
    assert f"Receipt {failed.pk} (default, PPB) failed: ZeroDivisionError: division by zero" in err
    assert "0 processed, 0 ignored, 0 unprocessable, 0 waiting to be tried again, 1 failed." in out
    failed.refresh_from_db()
    assert failed.attempts == 2


def test_reprocess_failed_leaves_unprocessable_receipts_alone_and_exits_0(client, capsys):
    post(client, b"{not json")
    post(client, webhook("PPGOOD"))
    unprocessable = CallbackReceipt.objects.get(status=Status.UNPROCESSABLE)

    call_command("reprocess_shipping_callbacks", "--failed")  # no CommandError: nothing failed

    assert "Reprocessed 0 callback receipts" in capsys.readouterr().out
    # Asked for by id, it is read again and reported, and still does not fail the run.
    call_command("reprocess_shipping_callbacks", "--ids", str(unprocessable.pk))
    out, err = capsys.readouterr()
    assert f"Receipt {unprocessable.pk} can never be processed: The body is not valid JSON" in err
    assert "1 unprocessable" in out
    unprocessable.refresh_from_db()
    assert unprocessable.status == Status.UNPROCESSABLE
    assert unprocessable.error.startswith("invalid_json: ")


def test_reprocess_by_ids_and_account(client, capsys):
    post(client, webhook("PPA", upto="in_transit"))
    post(client, webhook("PPB"))
    first = CallbackReceipt.objects.get(reference="PPA")

    call_command(
        "reprocess_shipping_callbacks", "--ids", str(first.pk), "--account", "default", verbosity=2
    )

    out = capsys.readouterr().out
    assert f"Receipt {first.pk}: processed" in out
    assert "Reprocessed 1 callback receipt:" in out
    first.refresh_from_db()
    assert first.attempts == 2


def test_reprocess_since_takes_dates_and_ages(client, capsys):
    post(client, webhook("PPA"))

    call_command("reprocess_shipping_callbacks", "--since", "7d")
    call_command("reprocess_shipping_callbacks", "--since", "2020-01-01")
    call_command("reprocess_shipping_callbacks", "--since", "2999-01-01T00:00")

    out = capsys.readouterr().out
    assert out.count("Reprocessed 1 callback receipt:") == 2
    assert "Reprocessed 0 callback receipts:" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Say which receipts to reprocess"),
        (["--since", "last tuesday"], "--since: 'last tuesday' is neither a date"),
        (["--since", "2025-13-45"], "--since: '2025-13-45' is neither a date"),
        (["--failed", "--account", "nowhere"], "--account: no shipping account 'nowhere'"),
        (["--ids", "999999"], "--ids: no callback receipt with id 999999"),
    ],
)
def test_reprocess_bad_arguments_are_readable_errors(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command("reprocess_shipping_callbacks", *args)


def test_reprocess_skips_rejected_receipts(client, capsys):
    post(client, webhook(), secret="wrong")
    rejected = CallbackReceipt.objects.get()

    call_command("reprocess_shipping_callbacks", "--ids", str(rejected.pk))

    assert "never processed" in capsys.readouterr().err
    assert not Order.objects.exists()


def test_receipt_stuck_in_received_is_picked_up_by_failed(client):
    from datetime import timedelta

    from django.utils import timezone

    receipt = CallbackReceipt.objects.create(
        account="default",
        body=b'{"tracking_number": "PPSTUCK", "current_state": "in_transit"}',
        content_type="application/json",
        dedupe_key="x",
    )
    CallbackReceipt.objects.filter(pk=receipt.pk).update(
        received_at=timezone.now() - timedelta(hours=1)
    )
    fresh = CallbackReceipt.objects.create(
        account="default", body=b'{"tracking_number": "PPFRESH"}', content_type="application/json"
    )

    call_command("reprocess_shipping_callbacks", "--failed")

    receipt.refresh_from_db()
    fresh.refresh_from_db()
    assert receipt.status == Status.PROCESSED
    assert fresh.status == Status.RECEIVED  # may still be in the hands of its request
    assert Order.objects.get().reference == "PPSTUCK"


def test_crash_outside_processing_still_answers_200_and_keeps_the_body(client, monkeypatch):
    from django_shipping_orders.callbacks import views

    def broken(receipt, **kwargs):
        raise MemoryError("worker is dying")

    monkeypatch.setattr(views, "process_receipt", broken)
    response = post(client, webhook())

    # Stored, not applied: 202, as for any receipt the drain applies later.
    assert response.status_code == 202
    assert response.json()["status"] == "received"
    assert CallbackReceipt.objects.get().status == Status.RECEIVED


# -- verify mode ------------------------------------------------------------------------------


@pytest.fixture
def verifying(settings, scripted_server):
    set_account(settings, CALLBACK_VERIFY=True, BASE_URL=scripted_server.url + "/api/3")
    return scripted_server


def test_verify_mode_forged_body_changes_nothing(client, verifying):
    verifying.add(200, {"response": order_document("PPREAL", state="ready_for_pickup")})
    assert post(client, webhook("PPREAL", upto="ready_for_pickup")).status_code == 200
    order = Order.objects.get()
    before = _snapshot(order)

    verifying.add(200, {"response": order_document("PPREAL", state="ready_for_pickup")})
    forged = webhook(
        "PPREAL", upto="completed", courier_job_id="FORGED", tracking_url="https://evil.test/"
    )
    response = post(client, forged)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.state == "ready_for_pickup"
    assert order.courier_job_id != "FORGED"
    assert order.tracking_url != "https://evil.test/"
    assert _snapshot(order)["events"] == before["events"]
    assert [r["path"] for r in verifying.requests] == [
        "/api/3/orders/PPREAL",
        "/api/3/orders/PPREAL",
    ]


def test_verify_mode_applies_what_the_provider_says(client, verifying):
    verifying.add(200, {"response": order_document("PPVER", state="in_transit")})

    response = post(client, webhook("PPVER", upto="order_placed"))

    assert response.status_code == 200
    order = Order.objects.get()
    assert order.state == "in_transit"
    assert order.receiver_name == "Receiver Name"
    assert order.events.get().source == "callback"
    assert "Bearer" in verifying.requests[0]["headers"]["Authorization"]


def test_verify_mode_unknown_order_is_ignored(client, verifying):
    verifying.add(404, {"error": "not_found", "error_description": "Order not found"})

    response = post(client, webhook("PPFAKE"))

    assert response.status_code == 200
    assert not Order.objects.exists()
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.IGNORED
    assert "does not know order 'PPFAKE'" in receipt.error


def test_verify_mode_provider_down_keeps_the_receipt_failed_for_later(client, verifying):
    verifying.add(503, {"error": "unavailable"})

    response = post(client, webhook("PPLATER"))

    assert response.status_code == 200
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.FAILED
    assert "503" in receipt.error
    assert not Order.objects.exists()

    verifying.add(200, {"response": order_document("PPLATER", state="in_transit")})
    call_command("reprocess_shipping_callbacks", "--ids", str(receipt.pk))
    assert Order.objects.get().state == "in_transit"


def test_a_receipt_applied_in_its_time_keeps_its_outcome_when_reprocessed_later(client, capsys):
    post(client, webhook(current_state="ready_for_pickup"))
    post(client, webhook(current_state="completed"))
    first = CallbackReceipt.objects.order_by("pk").first()

    call_command("reprocess_shipping_callbacks", "--ids", str(first.pk))

    first.refresh_from_db()
    assert first.status == Status.PROCESSED  # not "ignored": it was applied, once
    assert first.error.startswith("processed before; not applied again: stale")
    assert Order.objects.get().state == "completed"
