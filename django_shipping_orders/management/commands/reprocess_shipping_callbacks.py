"""Process stored callback receipts again.

Usage::

    manage.py reprocess_shipping_callbacks --failed
    manage.py reprocess_shipping_callbacks --ids 12 13 14
    manage.py reprocess_shipping_callbacks --since 2025-01-01 --account default
    manage.py reprocess_shipping_callbacks --failed --since 7d

Filters combine (every one given must match). ``--failed`` takes failed
receipts and those stuck in "received" for more than ten minutes (their
worker died before it recorded an outcome). Rejected (unauthenticated)
receipts are never processed. Each receipt goes through the same code as a
live callback, so a duplicate or stale one changes nothing.

Prints one line per receipt that failed again and a summary; exits with a
non-zero status when any receipt failed, after trying all of them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_shipping_orders.callbacks import (
    parse_since,
    process_receipt,
    receipts_to_reprocess,
    scrub,
)
from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.models import CallbackReceipt

Status = CallbackReceipt.Status


class Command(BaseCommand):
    help = "Process stored shipping callback receipts again (failed ones, by id, or since a time)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--failed",
            action="store_true",
            help="Failed receipts, and received ones left unprocessed for over ten minutes.",
        )
        parser.add_argument(
            "--ids", nargs="+", type=int, metavar="ID", help="Receipts with these ids."
        )
        parser.add_argument(
            "--since",
            metavar="WHEN",
            help="Receipts received since a date (2025-01-01), a time (2025-01-01T08:00) or an age (7d, 12h).",
        )
        parser.add_argument("--account", metavar="ALIAS", help="Only receipts of this account.")

    def handle(self, *args: Any, **options: Any) -> None:
        failed, ids, since_text, account = (
            options["failed"],
            options["ids"],
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

        selected = list(
            receipts_to_reprocess(failed=failed, ids=ids, since=since, account=account).values_list(
                "pk", flat=True
            )
        )
        counts = {Status.PROCESSED: 0, Status.IGNORED: 0, Status.FAILED: 0}
        for pk in selected:
            # One at a time: bodies can be large, and each receipt commits on its own.
            receipt = CallbackReceipt.objects.get(pk=pk)
            try:
                result = process_receipt(receipt)
                status = Status(result.status) if result.status in counts else Status.IGNORED
                reason = result.reason
            except Exception as err:  # keep going: every receipt gets its chance
                status, reason = (
                    Status.FAILED,
                    scrub(f"{type(err).__name__}: {err}", receipt.account),
                )
            counts[status] += 1
            if status == Status.FAILED:
                self.stderr.write(
                    f"Receipt {pk} ({receipt.account}, {receipt.reference or 'no reference'}) failed: "
                    f"{reason}"
                )
            elif options["verbosity"] >= 2:
                detail = f": {reason}" if reason else ""
                self.stdout.write(f"Receipt {pk}: {status.value}{detail}")

        total = len(selected)
        self.stdout.write(
            f"Reprocessed {total} callback receipt{'s' if total != 1 else ''}: "
            f"{counts[Status.PROCESSED]} processed, {counts[Status.IGNORED]} ignored, "
            f"{counts[Status.FAILED]} failed."
        )
        if counts[Status.FAILED]:
            raise CommandError(
                f"{counts[Status.FAILED]} of {total} callback receipts failed; their errors are "
                "shown above and on the receipts in the admin."
            )
