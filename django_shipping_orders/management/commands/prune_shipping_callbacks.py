"""Delete old callback receipts, so the table does not grow without end.

Usage::

    manage.py prune_shipping_callbacks --older-than 90d
    manage.py prune_shipping_callbacks --older-than 90d --dry-run
    manage.py prune_shipping_callbacks --older-than 2w --include-failed

Ages are written as ``90d``, ``12h``, ``30m``, ``2w`` (a bare number means
days). Failed receipts, and receipts never processed, are kept unless
``--include-failed`` is given: they are the ones someone still has to look
at. Order events keep existing; they only lose the link to a deleted receipt.
Deletes in batches, so a large backlog does not lock the table for long.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from django_shipping_orders.models import CallbackReceipt

from ._args import moment_before, parse_age

BATCH_SIZE = 1000


class Command(BaseCommand):
    help = "Delete shipping callback receipts older than an age (failed ones are kept unless told)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="AGE",
            help="Delete receipts received longer ago than this: 90d, 12h, 30m, 2w.",
        )
        parser.add_argument(
            "--include-failed",
            action="store_true",
            help="Also delete failed receipts and receipts never processed.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_age(options["older_than"])
        except ValueError as err:
            raise CommandError(f"--older-than: {err}.") from None
        if not age:
            raise CommandError("--older-than: the age must be more than zero.")
        try:
            cutoff = moment_before(timezone.now(), age, options["older_than"])
        except ValueError as err:
            raise CommandError(f"--older-than: {err}.") from None
        queryset = CallbackReceipt.objects.prunable(
            cutoff, include_failed=options["include_failed"]
        )
        kept = (
            0
            if options["include_failed"]
            else CallbackReceipt.objects.filter(received_at__lt=cutoff).count() - queryset.count()
        )
        when = f"received before {timezone.localtime(cutoff):%Y-%m-%d %H:%M}"
        kept_text = f"; kept {kept} failed or unprocessed" if kept else ""
        if options["dry_run"]:
            self.stdout.write(
                f"Would delete {queryset.count()} callback receipts {when}{kept_text}."
            )
            return

        deleted = 0
        try:
            while True:
                batch = list(queryset.values_list("pk", flat=True)[:BATCH_SIZE])
                if not batch:
                    break
                deleted += (
                    CallbackReceipt.objects.filter(pk__in=batch)
                    .delete()[1]
                    .get(CallbackReceipt._meta.label, 0)
                )
        except DatabaseError as err:
            raise CommandError(
                f"Deleted {deleted} callback receipts {when}, then failed: {err}"
            ) from err
        self.stdout.write(f"Deleted {deleted} callback receipts {when}{kept_text}.")
