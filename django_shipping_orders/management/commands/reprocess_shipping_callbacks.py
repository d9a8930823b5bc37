"""Process stored callback receipts again.

Usage::

    manage.py reprocess_shipping_callbacks --failed
    manage.py reprocess_shipping_callbacks --ids 12 13 14
    manage.py reprocess_shipping_callbacks --since 2025-01-01 --account default
    manage.py reprocess_shipping_callbacks --failed --since 7d

Filters combine (every one given must match). ``--failed`` takes what is
worth trying again: failed receipts and those stuck in "received" for more
than ten minutes (their worker died before it recorded an outcome), never
unprocessable ones (their body can never be applied). Rejected
(unauthenticated) receipts are never processed. Each receipt goes through the
same code as a live callback, so a duplicate or stale one changes nothing.

Prints one line per receipt that failed again or is unprocessable, and a
summary; exits with a non-zero status when any receipt failed, after trying
all of them (an unprocessable one is not a failure of the run).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_shipping_orders.callbacks import reprocess
from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.models import CallbackReceipt

from ._args import parse_ids, parse_since

Status = CallbackReceipt.Status


class Command(BaseCommand):
    help = "Process stored shipping callback receipts again (failed ones, by id, or since a time)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--failed",
            action="store_true",
            help="Receipts worth trying again: failed ones, and received ones left "
            "unprocessed for over ten minutes (never unprocessable ones).",
        )
        parser.add_argument("--ids", nargs="+", metavar="ID", help="Receipts with these ids.")
        parser.add_argument(
            "--since",
            metavar="WHEN",
            help="Receipts received since a date (2025-01-01), a time (2025-01-01T08:00) or an age (7d, 12h).",
        )
        parser.add_argument("--account", metavar="ALIAS", help="Only receipts of this account.")

    def handle(self, *args: Any, **options: Any) -> None:
        failed, ids, since_text, account = (
            options["failed"],
            parse_ids(options["ids"], "--ids") if options["ids"] else None,
            options["since"],
            options["account"],
        )
        if not (failed or ids or since_text):
            raise CommandError(
                "Say which receipts to reprocess: --failed, --ids 1 2 … or --since 7d."
            )
        since = None
        if since_text:
            try:
                since = parse_since(since_text)
            except ValueError as err:
                raise CommandError(f"--since: {err}.") from None
        if account and account not in shipping_settings.account_aliases:
            raise CommandError(
                f"--account: no shipping account {account!r}; configured: "
                f"{', '.join(shipping_settings.account_aliases) or 'none'}."
            )
        if ids:
            known = set(CallbackReceipt.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - known)
            if missing:
                raise CommandError(
                    f"--ids: no callback receipt with id {', '.join(map(str, missing))}."
                )
            rejected = sorted(
                CallbackReceipt.objects.filter(pk__in=ids, status=Status.REJECTED).values_list(
                    "pk", flat=True
                )
            )
            if rejected:
                self.stderr.write(
                    f"Skipping rejected (unauthenticated) receipt(s) {', '.join(map(str, rejected))}: "
                    "they are never processed."
                )

        selection = CallbackReceipt.objects.reprocessable(
            failed=failed, ids=ids, since=since, account=account
        )
        # Each must still be selected at its turn: a drain running meanwhile (a catch-up)
        # may process the waiting ones first, and they are not applied a second time.
        report = reprocess(selection.values_list("pk", flat=True), still=selection)
        for receipt, reason in report.failed:
            self.stderr.write(
                f"Receipt {receipt.pk} ({receipt.account}, {receipt.reference or 'no reference'}) "
                f"failed: {reason}"
            )
        for pk, status, reason in report.outcomes:
            if status == Status.UNPROCESSABLE:
                self.stderr.write(f"Receipt {pk} can never be processed: {reason}")
            elif options["verbosity"] >= 2 and status != Status.FAILED:
                self.stdout.write(f"Receipt {pk}: {status}" + (f": {reason}" if reason else ""))
        total = report.total
        self.stdout.write(
            f"Reprocessed {total} callback receipt{'s' if total != 1 else ''}: "
            f"{report.processed} processed, {report.ignored} ignored, "
            f"{report.unprocessable} unprocessable, {report.retrying} waiting to be tried "
            f"again, {len(report.failed)} failed."
            + (
                f" {len(report.taken)} processed by another run meanwhile were left as they are."
                if report.taken
                else ""
            )
        )
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} of {total} callback receipts failed; their errors are "
                "shown above and on the receipts in the admin."
            )
