"""django-q2: idempotent schedules, late and overlapping runs dropped, thin tasks."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, result

from django_shipping_orders import locks, tasks

from .test_engine import get_calls, make_due, place

pytestmark = pytest.mark.django_db(transaction=True)


def install(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("install_shipping_schedules", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


REFRESH = "shipping_orders.refresh_due"
CALLBACKS = "shipping_orders.process_pending_callbacks"


def refresh_schedules():
    return Schedule.objects.filter(name__startswith=REFRESH)


def test_installing_twice_leaves_one_schedule_of_each():
    first, _ = install()
    second, _ = install()
    assert f"{REFRESH}: created" in first and f"{CALLBACKS}: created" in first
    assert f"{REFRESH}: unchanged" in second and f"{CALLBACKS}: unchanged" in second
    assert sorted(Schedule.objects.values_list("name", flat=True)) == [CALLBACKS, REFRESH]
    pending = Schedule.objects.get(name=CALLBACKS)
    assert pending.func == "django_shipping_orders.tasks.process_pending_callbacks"
    assert (pending.schedule_type, pending.minutes, pending.repeats) == (Schedule.MINUTES, 1, -1)
    (schedule,) = refresh_schedules()
    assert schedule.func == "django_shipping_orders.tasks.refresh_due_orders"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert schedule.intended_date_kwarg == "scheduled_for"


def test_a_copy_made_by_hand_is_removed_and_a_change_is_applied():
    install()
    Schedule.objects.create(name="shipping_orders.refresh_due", func="x.y", minutes=9)
    out, _ = install("--minutes", "5")
    (schedule,) = refresh_schedules()
    assert schedule.minutes == 5 and schedule.kwargs == "{'minutes': 5}"
    assert "updated" in out


def test_per_account_schedules_replace_the_shared_one(sandbox_settings):
    install()
    out, _ = install("--per-account")
    assert [s.name for s in refresh_schedules()] == ["shipping_orders.refresh_due.default"]
    assert refresh_schedules().get().kwargs == "{'account': 'default'}"
    assert Schedule.objects.filter(name=CALLBACKS).count() == 1
    assert "shipping_orders.refresh_due: removed" in out


def test_remove_deletes_only_our_schedules():
    install()
    Schedule.objects.create(name="shop.nightly", func="shop.tasks.nightly", minutes=1)
    out, _ = install("--remove")
    assert f"{REFRESH}: removed" in out and f"{CALLBACKS}: removed" in out
    assert [s.name for s in Schedule.objects.all()] == ["shop.nightly"]


def test_nothing_is_installed_at_import_or_migrate():
    assert not Schedule.objects.exists()


def test_catch_up_on_is_warned_about():
    from django_q.conf import Conf

    old, Conf.CATCH_UP = Conf.CATCH_UP, True
    try:
        _, err = install()
    finally:
        Conf.CATCH_UP = old
    assert "catch_up" in err


@pytest.mark.parametrize("minutes", ["0", "-1", "soon"])
def test_a_bad_period_is_a_readable_error(minutes):
    with pytest.raises(CommandError, match="--minutes must be a whole number of 1 or more"):
        install("--minutes", minutes)


def test_a_run_that_comes_late_does_nothing(sandbox, sandbox_settings):
    orders = place(2)
    make_due(*orders)
    late = (timezone.now() - timedelta(minutes=3)).isoformat()
    assert "late run" in tasks.refresh_due_orders(scheduled_for=late)["skipped"]
    on_time = (timezone.now() - timedelta(seconds=20)).isoformat()
    assert tasks.refresh_due_orders(scheduled_for=on_time)["fetched"] == 2


def test_a_run_while_the_previous_one_is_busy_does_nothing(sandbox, sandbox_settings):
    orders = place(2)
    make_due(*orders)
    with locks.overlap_guard("refresh_due:*") as acquired:
        assert acquired
        assert tasks.refresh_due_orders() == {"skipped": "another run is in progress"}
    assert sum(get_calls(sandbox, o.reference) for o in orders) == 0
    assert tasks.refresh_due_orders()["fetched"] == 2


def test_the_tasks_run_through_django_q(sandbox, sandbox_settings):
    orders = place(3)
    make_due(*orders[:2])
    task_id = async_task("django_shipping_orders.tasks.refresh_due_orders")
    assert result(task_id)["fetched"] == 2
    one = async_task("django_shipping_orders.tasks.refresh_order", orders[2].pk)
    assert result(one)["fetched"] == 1
    assert [get_calls(sandbox, o.reference) for o in orders] == [1, 1, 1]
