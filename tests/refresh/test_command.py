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


def test_each_failure_gets_a_line_and_the_exit_status_is_1(scripted_server):
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
        with pytest.raises(CommandError, match="2 order\\(s\\) could not be refreshed") as error:
            call_command("refresh_shipping_orders", stdout=out, stderr=err)
    assert error.value.returncode == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("FAILED default:PPGONE") and "not_found: No such order" in lines[0]
    assert "failed 2" in out.getvalue()
    assert "test-api-key" not in err.getvalue() + out.getvalue()


@pytest.mark.parametrize("flag", ["--fail-on-error", None])
def test_failures_exit_1_by_default_and_with_the_old_flag(scripted_server, flag):
    scripted_server.default = (404, {"error": "not_found"}, {})
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(scripted_server.url + "/api/3")):
        Order.objects.create(account="default", reference="PPGONE1")
        make_due()
        with pytest.raises(CommandError) as error:
            run(*([flag] if flag else []))
    assert error.value.returncode == 1


def test_allow_failures_exits_0_and_still_prints_them(scripted_server):
    scripted_server.default = (404, {"error": "not_found"}, {})
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(scripted_server.url + "/api/3")):
        Order.objects.create(account="default", reference="PPGONE1")
        make_due()
        out, err = run("--allow-failures")
    assert "failed 1" in out
    assert err.startswith("FAILED default:PPGONE1")


def test_exit_statuses_are_documented_in_help(capsys):
    from django.core.management import get_commands, load_command_class

    command = load_command_class(
        get_commands()["refresh_shipping_orders"], "refresh_shipping_orders"
    )
    text = command.create_parser("manage.py", "refresh_shipping_orders").format_help()
    assert "exit status:" in text
    assert "1  some orders could not be refreshed" in text
    assert "--allow-failures" in text


def test_progress_shows_the_rate_and_the_time_left():
    from django_shipping_orders.management.commands.refresh_shipping_orders import _Progress

    now = [100.0]
    progress = _Progress(StringIO(), clock=lambda: now[0])
    now[0] += 10
    assert progress.line(20, 200) == f"[{'#' * 3}{'-' * 27}] 20/200  2.0/s  ETA 1 min 30 s"
    now[0] += 90
    assert progress.line(200, 200).endswith("200/200  2.0/s")


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
