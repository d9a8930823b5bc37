"""Tell an operator whether the shipping pipeline is healthy, per account.

Prints, for each account: open orders by state; orders due for a refresh now
and how long the oldest has waited; provider requests in the last hour
against the hourly budget; callbacks received in the last day by status,
failed ones (worth reprocessing) and unprocessed ones with the oldest's age;
label downloads pending and failed. ``--json`` prints the same as one JSON
object for monitoring. Examples::

    manage.py shipping_orders_status
    manage.py shipping_orders_status --json --account default
    manage.py shipping_orders_status --max-due-age 1h --max-failed-callbacks 5
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from ... import health
from ...exceptions import ShippingOrdersConfigurationError
from ._args import EpilogHelpFormatter, SettingsExitTwo, parse_age, parse_share

EPILOG = """\
exit status:
  0  healthy: nothing is past a threshold
  1  unhealthy: something is past a threshold (each problem is printed)
  2  the command could not tell (bad arguments or settings)

An age is written 30s, 10m, 2h or 1d; "off" switches that test off."""


def _age_or_off(text: str) -> timedelta | None:
    if text.strip().lower() == "off":
        return None
    try:
        return parse_age(text)
    except ValueError as err:
        raise CommandError(f"{err}; or 'off'.", returncode=2) from None


def _count_or_off(text: str, name: str) -> int | None:
    if text.strip().lower() == "off":
        return None
    if not text.strip().isdigit():
        raise CommandError(f"{name} must be a whole number or 'off', got {text!r}.", returncode=2)
    return int(text)


class Command(SettingsExitTwo):
    help = (
        "Whether the shipping pipeline is healthy: orders, refreshes, requests, callbacks, labels."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", EpilogHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("--account", metavar="ALIAS", help="Only this account.")
        parser.add_argument(
            "--max-failed-callbacks",
            default="0",
            metavar="N",
            help="Unhealthy above N failed callbacks waiting to be reprocessed (default 0).",
        )
        parser.add_argument(
            "--max-waiting-age",
            default="10m",
            metavar="AGE",
            help="Unhealthy when a callback has waited longer to be processed (default 10m).",
        )
        parser.add_argument(
            "--max-due-age",
            default="30m",
            metavar="AGE",
            help="Unhealthy when a due order has waited longer for its refresh (default 30m).",
        )
        parser.add_argument(
            "--max-label-failures",
            default="0",
            metavar="N",
            help="Unhealthy above N orders whose label download failed for good (given up, "
            "or refused; a download still being retried is not counted) (default 0).",
        )
        parser.add_argument(
            "--max-budget-share",
            metavar="SHARE",
            help="Unhealthy when the last hour used more than SHARE (0-1) of the hourly "
            "request budget (default: not tested).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        thresholds = health.Thresholds(
            max_failed_callbacks=_count_or_off(
                options["max_failed_callbacks"], "--max-failed-callbacks"
            ),
            max_waiting_age=_age_or_off(options["max_waiting_age"]),
            max_due_age=_age_or_off(options["max_due_age"]),
            max_label_failures=_count_or_off(options["max_label_failures"], "--max-label-failures"),
            max_budget_share=None
            if options["max_budget_share"] is None
            else parse_share(options["max_budget_share"], "--max-budget-share"),
        )
        try:
            accounts = health.pipeline_health(thresholds, account=options["account"])
        except ShippingOrdersConfigurationError as err:
            raise CommandError(str(err), returncode=2) from None
        except DatabaseError as err:
            raise CommandError(
                f"Cannot read the shipping tables ({err}); has migrate run?", returncode=2
            ) from None
        problems = [f"{a.account}: {problem}" for a in accounts for problem in a.problems]
        if options["json"]:
            now = timezone.now()
            self.stdout.write(
                json.dumps(
                    {
                        "healthy": not problems,
                        "checked_at": now.isoformat(),
                        "problems": problems,
                        "accounts": {a.account: a.as_dict(now) for a in accounts},
                    },
                    indent=2,
                )
            )
        else:
            for account in accounts:
                self._print(account)
            if problems:
                self.stdout.write(self.style.ERROR("UNHEALTHY"))
                for problem in problems:
                    self.stdout.write(self.style.ERROR(f"  {problem}"))
            else:
                self.stdout.write(self.style.SUCCESS("Healthy."))
        if problems:
            raise CommandError(
                f"The shipping pipeline is unhealthy: {len(problems)} problem(s).", returncode=1
            )

    def _print(self, a: health.AccountHealth) -> None:
        now = timezone.now()
        states = ", ".join(
            f"{state.replace('_', ' ')} {count}" for state, count in a.open_by_state.items()
        )
        share = f" ({a.requests_last_hour / a.budget_per_hour:.0%})" if a.budget_per_hour else ""
        received = sum(a.callbacks_last_24h.values())
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(a.callbacks_last_24h.items()))
        oldest_due = f"; oldest due {_ago(a.oldest_due_at, now)}" if a.oldest_due_at else ""
        oldest_waiting = (
            f"; oldest waiting {_ago(a.oldest_waiting_at, now)}" if a.oldest_waiting_at else ""
        )
        lines = [
            f"Account {a.account} ({a.provider}, {a.rate_limit})",
            f"  open orders        {a.open_orders}" + (f" ({states})" if states else ""),
            f"  due for refresh    {a.due_now}{oldest_due}",
            f"  requests last hour {a.requests_last_hour} of {a.budget_per_hour}{share}",
            f"  callbacks, 24 h    {received} received" + (f" ({by_status})" if by_status else ""),
            f"  callbacks now      {a.callbacks_failed} failed, {a.callbacks_waiting} waiting"
            f"{oldest_waiting}",
            f"  label downloads    {a.labels_pending} pending, {a.labels_retrying} retrying, "
            f"{a.labels_failed} failed",
        ]
        self.stdout.write("\n".join(lines))


def _ago(moment: Any, now: Any) -> str:
    seconds = max(0, (now - moment).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
