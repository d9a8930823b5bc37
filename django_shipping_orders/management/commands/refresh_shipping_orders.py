"""Fetch shipping orders from their provider and update the local mirror.

By default the orders due now (``--due``), oldest due first with those still
processing and the looks after a pickup ahead of the others
(``REFRESH["MAX_DEFERRAL"]``), as many as the rate
budget of each account allows right now; the rest are reported as skipped and
come next time. ``--wait`` sleeps for the budget until every selected order is
fetched. Examples::

    manage.py refresh_shipping_orders                       # what is due, within the budget
    manage.py refresh_shipping_orders --account default --limit 50
    manage.py refresh_shipping_orders --reference PPYvZCTod5bkD PPXfhSQLXcMVI
    manage.py refresh_shipping_orders --all-open --wait     # everything not final; slow on purpose
    manage.py refresh_shipping_orders --dry-run             # list what would be fetched

Each failure is printed on a line of its own and recorded on the order
(``last_error``); the exit status is then 1, unless ``--allow-failures``.
On a terminal a progress line shows the rate and the time left.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from ... import refresh
from ...conf import shipping_settings
from ...exceptions import ShippingOrdersConfigurationError
from ...models import Order, Source
from ...ratelimit import default_limiter
from ._args import EpilogHelpFormatter, SettingsExitTwo, printable

#: Orders listed one by one by --dry-run before it only counts.
DRY_RUN_LISTED = 50

EPILOG = """\
exit status:
  0  every selected order was fetched, or left for later by the rate limit
  1  some orders could not be refreshed (each is printed), unless --allow-failures
  2  bad arguments or settings: nothing was fetched"""


class Command(SettingsExitTwo):
    help = "Fetch shipping orders from their provider (due ones by default) within the rate limit."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", EpilogHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--due", action="store_true", help="Orders due for a refresh now (the default)."
        )
        which.add_argument(
            "--all-open", action="store_true", help="Every order not in a final state."
        )
        which.add_argument(
            "--reference", nargs="+", metavar="REF", help="These orders (provider references)."
        )
        parser.add_argument("--account", metavar="ALIAS", help="Only orders of this account.")
        parser.add_argument(
            "--limit", type=str, metavar="N", help="Fetch at most N orders (N >= 1)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be fetched; fetch nothing."
        )
        failures = parser.add_mutually_exclusive_group()
        failures.add_argument(
            "--allow-failures",
            action="store_true",
            help="Exit with status 0 even when orders failed (they are still printed).",
        )
        failures.add_argument(
            "--fail-on-error",
            action="store_true",
            help="Exit with status 1 when any order failed (the default; kept for old scripts).",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Sleep for the rate budget until every selected order is fetched.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit = _parse_limit(options["limit"])
        account = options["account"]
        if options["dry_run"] and options["wait"]:
            raise CommandError(
                "--dry-run and --wait cannot be combined: a dry run fetches nothing", returncode=2
            )
        try:
            if account is not None:
                shipping_settings.account(account)
            shipping_settings.accounts()  # a broken account setting is reported before any work
            if not shipping_settings.account_aliases:
                raise CommandError(
                    "No shipping account is configured (SHIPPING_ORDERS['ACCOUNTS'])", returncode=2
                )
            selection = self._selection(options, account)
            if options["dry_run"]:
                self._dry_run(selection, limit, account)
                return
            summary = self._run(selection, options, limit, account)
        except ShippingOrdersConfigurationError as err:
            raise CommandError(str(err), returncode=2) from None
        except DatabaseError as err:
            raise CommandError(
                f"Cannot read the shipping tables ({err}); has migrate run?", returncode=2
            ) from None
        self._report(summary, quiet=options["verbosity"] == 0)
        if summary.failed and not options["allow_failures"]:
            raise CommandError(
                f"{summary.failed} order(s) could not be refreshed; each is named above "
                "(--allow-failures exits 0).",
                returncode=1,
            )

    # -- selection -----------------------------------------------------------------------

    def _selection(self, options: dict[str, Any], account: str | None) -> Any:
        """None for "due now", else a queryset of the orders to fetch."""
        if options["reference"]:
            references = list(
                dict.fromkeys(printable(ref, "--reference") for ref in options["reference"])
            )
            queryset = Order.objects.filter(reference__in=references)
            if account:
                queryset = queryset.filter(account=account)
            found = set(queryset.values_list("reference", flat=True))
            missing = [ref for ref in references if ref not in found]
            if missing:
                where = f" in account {account!r}" if account else ""
                raise CommandError(
                    f"No order with reference {', '.join(missing)}{where}.", returncode=2
                )
            return queryset.order_by("pk")
        if options["all_open"]:
            aliases = [account] if account else shipping_settings.account_aliases
            return (
                Order.objects.open()
                .filter(account__in=aliases, reference__isnull=False)
                .order_by("next_refresh_at", "pk")
            )
        return None

    def _dry_run(self, selection: Any, limit: int | None, account: str | None) -> None:
        queryset = refresh.due_orders(account) if selection is None else selection
        total = queryset.count()
        count = min(total, limit) if limit is not None else total
        shown = min(count, DRY_RUN_LISTED)
        # The due orders are listed in the order a run takes them (processing ones first).
        orders = refresh.in_turn(queryset, shown) if selection is None else list(queryset[:shown])
        for order in orders:
            due = order.next_refresh_at.isoformat() if order.next_refresh_at else "not scheduled"
            self.stdout.write(f"{order.account}:{order.reference}  {order.state or '-'}  due {due}")
        if count > len(orders):
            self.stdout.write(f"… and {count - len(orders)} more")
        limiter = default_limiter()
        aliases = [account] if account else shipping_settings.account_aliases
        # A snapshot: every request takes its slot when it is sent, others may take them first.
        budget = ", ".join(
            f"{alias} {limiter.available(shipping_settings.account(alias))}"
            f"/{shipping_settings.account(alias).rate_limit}"
            for alias in aliases
        )
        self.stdout.write(f"Would fetch {count} order(s). Rate budget now: {budget}.")

    # -- running -------------------------------------------------------------------------

    def _run(
        self, selection: Any, options: dict[str, Any], limit: int | None, account: str | None
    ) -> refresh.RefreshSummary:
        progress = _Progress(sys.stderr) if _is_tty(self.stderr) else None
        try:
            if selection is None:
                return refresh.refresh_due(
                    account=account,
                    limit=limit,
                    wait=options["wait"],
                    source=Source.COMMAND,
                    progress=progress,
                )
            if limit is not None:
                selection = selection[:limit]
            return refresh.refresh_orders(
                list(selection.values_list("pk", flat=True)),
                wait=options["wait"],
                source=Source.COMMAND,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.finish()

    def _report(self, summary: refresh.RefreshSummary, *, quiet: bool = False) -> None:
        for failure in summary.failures:
            self.stderr.write(
                f"FAILED {failure.account}:{failure.reference}: {failure.error}",
                style_func=self.style.ERROR,
            )
        if quiet and not summary.failed:
            return  # --verbosity 0: failures only
        text = f"Selected {summary.selected}: {summary}."
        if summary.skipped_rate_limited:
            text += " Skipped orders stay due; run again later or use --wait."
        style = self.style.WARNING if summary.failed else self.style.SUCCESS
        self.stdout.write(text, style_func=style)


def _parse_limit(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        limit = int(value)
    except ValueError:
        raise CommandError(
            f"--limit must be a whole number of 1 or more, got {value!r}.", returncode=2
        ) from None
    if limit < 1:
        raise CommandError(
            f"--limit must be a whole number of 1 or more, got {limit}.", returncode=2
        )
    return limit


def _is_tty(stream: Any) -> bool:
    target = getattr(stream, "_out", stream)
    return bool(getattr(target, "isatty", lambda: False)())


class _Progress:
    """A one-line progress bar on the terminal, with the rate and the time left.

    Called from the worker threads. The rate is measured over the whole run
    so far: the rate limit, not the network, usually sets it.
    """

    WIDTH = 30

    def __init__(self, stream: Any, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._shown = False

    def line(self, done: int, total: int) -> str:
        """The text of the progress line for ``done`` of ``total`` orders."""
        total = max(total, done, 1)
        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = done / elapsed
        text = f"[{bar}] {done}/{total}  {rate:.1f}/s"
        if done and done < total:
            text += f"  ETA {_duration((total - done) / rate)}"
        return text

    def __call__(self, done: int, total: int) -> None:
        text = self.line(done, total)
        with self._lock:
            # Padded, so that a shorter line wipes the end of a longer one.
            self.stream.write(f"\r{text:<72}")
            self.stream.flush()
            self._shown = True

    def finish(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write("\n")
                self.stream.flush()


def _duration(span: float) -> str:
    seconds = round(span)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
