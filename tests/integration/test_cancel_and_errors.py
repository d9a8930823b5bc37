"""Cancelling, and the provider's refusals (403, 404, 422) as the app's typed errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_shipping_orders import policy, services
from django_shipping_orders.exceptions import (
    InvalidMerchantAccount,
    LabelNotReady,
    OrderCannotBeCancelled,
    OrderNotFound,
)
from django_shipping_orders.models import Order, Source

from .conftest import SECRETS, SENDERLV, SHIPPIT, order_payload, raises_without_secrets

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_cancel_before_transit_mirrors_the_order_as_cancelled(shop, alias):
    shop.sandbox.cancel_share = 0
    order = services.place_order(alias, order_payload())
    shop.sandbox.process_all()
    services.refresh_order(order)

    result = services.cancel_order(order)

    order.refresh_from_db()
    assert result is not None and result.state_changed
    assert order.state == "cancelled"
    assert shop.sandbox.order_info(order.reference)["state"] == "cancelled"
    event = order.events.order_by("-occurred_at", "-pk").first()
    assert (event.to_state, event.source) == ("cancelled", Source.CANCEL)


def test_cancel_while_still_processing_is_allowed(shop):
    order = services.place_order(SHIPPIT, order_payload())

    services.cancel_order(order)

    order.refresh_from_db()
    assert order.state == "cancelled"
    assert shop.sandbox.order_info(order.reference)["label_available"] is False


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_cancel_after_transit_raises_order_cannot_be_cancelled_with_its_state(shop, alias):
    shop.sandbox.cancel_share = 0
    order = services.place_order(alias, order_payload())
    shop.sandbox.process_all()
    shop.sandbox.advance(6 * 3600)  # past pickup: in transit

    with raises_without_secrets(OrderCannotBeCancelled) as info:
        services.cancel_order(order)

    assert info.value.status_code == 422
    assert info.value.code == "order_cannot_be_cancelled"
    assert info.value.order_state == "in_transit"
    order.refresh_from_db()
    assert "order_cannot_be_cancelled" in order.last_error
    assert order.state == "processing"  # nothing applied: the next refresh tells the truth
    assert shop.sandbox.order_info(order.reference)["state"] == "in_transit"


def test_label_before_allocation_raises_label_not_ready(shop):
    order = services.place_order(SHIPPIT, order_payload())

    with raises_without_secrets(LabelNotReady) as info:
        services.get_label(order)

    assert info.value.status_code == 422
    assert info.value.code == "order_not_available_to_label"  # a documented 422 code


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_wrong_api_key_is_invalid_merchant_account_and_the_order_is_kept(shop, alias):
    order = services.place_order(alias, order_payload())
    shop.configure(alias, API_KEY="sk_live_not_registered_anywhere")

    with raises_without_secrets(InvalidMerchantAccount) as info:
        services.refresh_order(order)

    assert "sk_live_not_registered_anywhere" not in str(info.value)
    assert info.value.status_code == 403
    assert info.value.code == "invalid_merchant_account"
    assert info.value.account == alias
    order.refresh_from_db()
    assert order.refresh_failures == 1
    assert "invalid_merchant_account" in order.last_error
    # 403 will not fix itself by retrying soon: the longest error delay.
    assert order.next_refresh_at >= timezone.now() + timedelta(
        seconds=policy.current_policy().ERROR_MAX - 60
    )
    assert order.state == "processing"


def test_placing_with_a_wrong_api_key_is_rejected_and_not_created_remotely(shop):
    shop.configure(SHIPPIT, API_KEY="sk_live_not_registered_anywhere")

    with raises_without_secrets(InvalidMerchantAccount):
        services.place_order(SHIPPIT, order_payload())

    local = Order.objects.get()
    assert local.placement == Order.Placement.REJECTED
    assert local.reference is None
    assert "invalid_merchant_account" in local.last_error
    assert shop.sandbox.orders() == []


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_unknown_reference_is_order_not_found_and_the_order_is_kept_and_marked(shop, alias):
    order = Order.objects.create(account=alias, reference="PP0NOSUCHORDER", state="processing")

    with raises_without_secrets(OrderNotFound) as info:
        services.refresh_order(order)

    assert info.value.status_code == 404
    assert info.value.code == "not_found"
    assert info.value.reference == "PP0NOSUCHORDER"
    order.refresh_from_db()
    assert order.refresh_failures == 1
    assert "not_found" in order.last_error
    assert order.next_refresh_at > timezone.now()
    assert Order.objects.filter(pk=order.pk).exists()


def test_another_merchants_order_is_not_found(shop):
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.add_account("sk_other_merchant", dialect="shippit")
    shop.configure(SHIPPIT, API_KEY="sk_other_merchant")

    with raises_without_secrets(OrderNotFound):
        services.refresh_order(order)


def test_stored_errors_carry_no_secret(shop):
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.process_all()
    shop.sandbox.advance(6 * 3600)
    with pytest.raises(OrderCannotBeCancelled):
        services.cancel_order(order)
    lost = Order.objects.create(account=SENDERLV, reference="SLV000000000")
    with pytest.raises(OrderNotFound):
        services.refresh_order(lost)

    for stored in Order.objects.values_list("last_error", flat=True):
        assert stored
        for secret in SECRETS:
            assert secret not in stored
