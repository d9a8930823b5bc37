"""Create or update the django-q2 schedules of the refresh engine (safe to run on every deploy).

Schedules are matched by name, so running this again never adds a copy::

    manage.py install_shipping_schedules                  # every minute, all accounts
    manage.py install_shipping_schedules --per-account    # one schedule per account
    manage.py install_shipping_schedules --minutes 5
    manage.py install_shipping_schedules --remove
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import schedules
from ...exceptions import ShippingOrdersConfigurationError


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules that refresh shipping orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minutes", default="1", metavar="N", help="Run every N minutes (default 1)."
        )
        parser.add_argument(
            "--per-account",
            action="store_true",
            help="One schedule per configured account instead of one for all.",
        )
        parser.add_argument(
            "--remove", action="store_true", help="Delete the app's schedules instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["remove"]:
            names = schedules.remove_schedules()
            for name in names:
                self.stdout.write(f"{name}: removed")
            if not names:
                self.stdout.write("No shipping schedules were installed.")
            return
        try:
            minutes = int(options["minutes"])
        except ValueError:
            minutes = 0
        if minutes < 1:
            raise CommandError(
                f"--minutes must be a whole number of 1 or more, got {options['minutes']!r}."
            )
        try:
            done = schedules.install_schedules(minutes=minutes, per_account=options["per_account"])
        except ShippingOrdersConfigurationError as err:
            raise CommandError(str(err)) from None
        if options["verbosity"] > 0:
            for name, what in done:
                self.stdout.write(f"{name}: {what}")
        if schedules.catch_up_enabled():
            self.stderr.write(
                self.style.WARNING(
                    "Q_CLUSTER['catch_up'] is on: django-q2 replays runs missed while no cluster "
                    "ran. The refresh task drops such late runs itself, but set "
                    "Q_CLUSTER['catch_up'] = False to avoid queueing them."
                )
            )
