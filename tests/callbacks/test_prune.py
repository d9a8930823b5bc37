"""prune_shipping_callbacks: old receipts go, failed ones stay unless told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_shipping_orders.models import CallbackReceipt, OrderEvent

from .conftest import post, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


def _aged(days: int, status: str, **values) -> CallbackReceipt:
    receipt = CallbackReceipt.objects.create(account="default", body=b"{}", status=status, **values)
    CallbackReceipt.objects.filter(pk=receipt.pk).update(
        received_at=timezone.now() - timedelta(days=days)
    )
    return receipt


@pytest.fixture
def receipts() -> dict[str, CallbackReceipt]:
    return {
        "old_processed": _aged(100, Status.PROCESSED),
        "old_ignored": _aged(100, Status.IGNORED),
        "old_rejected": _aged(100, Status.REJECTED),
        "old_failed": _aged(100, Status.FAILED),
        "old_received": _aged(100, Status.RECEIVED),
        "new_processed": _aged(10, Status.PROCESSED),
    }


def _left() -> set[int]:
    return set(CallbackReceipt.objects.values_list("pk", flat=True))


def test_prune_deletes_old_receipts_and_keeps_failed_ones(receipts, capsys):
    call_command("prune_shipping_callbacks", "--older-than", "90d")

    assert _left() == {receipts[k].pk for k in ("old_failed", "old_received", "new_processed")}
    out = capsys.readouterr().out
    assert "Deleted 3 callback receipts received before" in out
    assert "kept 2 failed or unprocessed" in out


def test_prune_include_failed_deletes_them_too(receipts):
    call_command("prune_shipping_callbacks", "--older-than", "90d", "--include-failed")

    assert _left() == {receipts["new_processed"].pk}


def test_prune_dry_run_deletes_nothing(receipts, capsys):
    call_command("prune_shipping_callbacks", "--older-than", "1w", "--dry-run")

    assert len(_left()) == 6
    assert "Would delete 4 callback receipts" in capsys.readouterr().out


def test_pruned_receipt_leaves_the_order_history(client):
    post(client, webhook())
    CallbackReceipt.objects.update(received_at=timezone.now() - timedelta(days=400))

    call_command("prune_shipping_callbacks", "--older-than", "365")

    event = OrderEvent.objects.get()
    assert event.receipt is None
    assert not CallbackReceipt.objects.exists()


@pytest.mark.parametrize("age", ["ninety days", "-5d", "90y", "", "0d"])
def test_prune_bad_age_is_a_readable_error(age):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("prune_shipping_callbacks", "--older-than", age)


def test_prune_requires_an_age():
    with pytest.raises(CommandError, match="--older-than"):
        call_command("prune_shipping_callbacks")
