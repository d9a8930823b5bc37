"""``refresh_shipping_orders``: what it fetches, what it prints, how it refuses bad arguments."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_shipping_orders.models import Order

from .conftest import sandbox_accounts
from .test_engine import get_calls, make_due, place

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("refresh_shipping_orders", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_by_default_the_due_orders_are_fetched_and_summarised(sandbox, sandbox_settings):
    orders = place(3)
    make_due(*orders[:2])
    out, err = run()
    assert (
        "Selected 2: fetched 2 (changed 0, unchanged 2), failed 0, skipped for rate limit 0" in out
    )
    assert err == ""
    assert [get_calls(sandbox, o.reference) for o in orders] == [1, 1, 0]


def test_dry_run_lists_what_would_be_fetched_and_fetches_nothing(sandbox, sandbox_settings):
    orders = place(2)
    make_due(*orders)
    out, _ = run("--dry-run")
    assert f"default:{orders[0].reference}" in out and f"default:{orders[1].reference}" in out
    assert "Would fetch 2 order(s). Rate budget now: default" in out
    assert sum(get_calls(sandbox, o.reference) for o in orders) == 0


def test_references_are_fetched_even_when_not_due(sandbox, sandbox_settings):
    orders = place(3)
    out, _ = run("--reference", orders[1].reference)
    assert "Selected 1: fetched 1" in out
    assert [get_calls(sandbox, o.reference) for o in orders] == [0, 1, 0]


def test_all_open_skips_orders_in_a_final_state(sandbox, sandbox_settings):
    orders = place(3)
    Order.objects.filter(pk=orders[0].pk).update(state="completed")
    out, _ = run("--all-open", "--limit", "5")
    assert "Selected 2: fetched 2" in out
    assert get_calls(sandbox, orders[0].reference) == 0


def test_without_budget_the_rest_is_reported_as_skipped(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(4)
    caches["default"].clear()  # the placements counted against the same key
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url, RATE_LIMIT="1/h")):
        make_due(*orders)
        out, _ = run()
    assert "fetched 1" in out and "skipped for rate limit 3" in out
    assert "run again later or use --wait" in out


def test_each_failure_gets_a_line_and_fail_on_error_exits_non_zero(scripted_server):
    scripted_server.default = (
        404,
        {"error": "not_found", "error_description": "No such order"},
        {},
    )
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(scripted_server.url + "/api/3")):
        Order.objects.create(account="default", reference="PPGONE1")
        Order.objects.create(account="default", reference="PPGONE2")
        make_due()
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError, match="2 order\\(s\\) could not be refreshed"):
            call_command("refresh_shipping_orders", "--fail-on-error", stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("FAILED default:PPGONE") and "not_found: No such order" in lines[0]
    assert "failed 2" in out.getvalue()
    assert "test-api-key" not in err.getvalue() + out.getvalue()


def test_failures_without_fail_on_error_do_not_raise(scripted_server):
    scripted_server.default = (404, {"error": "not_found"}, {})
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(scripted_server.url + "/api/3")):
        Order.objects.create(account="default", reference="PPGONE1")
        make_due()
        out, _ = run()
    assert "failed 1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "nope"], "No shipping account 'nope'; configured accounts: ['default']"),
        (["--limit", "0"], "--limit must be a whole number of 1 or more, got 0"),
        (["--limit", "many"], "--limit must be a whole number of 1 or more, got 'many'"),
        (["--reference", "PPNOPE"], "No order with reference PPNOPE"),
        (["--dry-run", "--wait"], "--dry-run and --wait cannot be combined"),
        (["--all-open", "--reference", "PP1"], "not allowed with argument"),
        (["--due", "--all-open"], "not allowed with argument"),
    ],
)
def test_bad_arguments_get_a_readable_error(sandbox_settings, args, message):
    with pytest.raises(CommandError) as err:
        run(*args)
    assert message in str(err.value)


def test_a_broken_setting_is_a_readable_error():
    broken = override_settings(SHIPPING_ORDERS={"ACCOUNTS": {"default": {"API_KEY": "x"}}})
    with broken, pytest.raises(CommandError, match="PROVIDER'\\] is required"):
        run()
