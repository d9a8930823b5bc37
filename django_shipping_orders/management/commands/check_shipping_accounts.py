"""Check every account's API key with the provider (``GET /merchant``), as the official plugins do.

::

    manage.py check_shipping_accounts              # every configured account
    manage.py check_shipping_accounts au-warehouse  # only these

Prints the merchant each key belongs to and its registered webhook URL.
Exits 1 when a key is refused (or the provider cannot be reached), after
checking the others; accounts whose provider has no merchant endpoint are
reported and do not fail the command.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import services
from ...conf import shipping_settings
from ...exceptions import InvalidMerchantAccount, ProviderAPIError, ShippingOrdersError
from ...redaction import scrub


class Command(BaseCommand):
    help = "Check each shipping account's API key with its provider (GET /merchant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="Account aliases.")

    def handle(self, *args: Any, accounts: list[str], **options: Any) -> None:
        try:
            aliases = accounts or shipping_settings.account_aliases
            for alias in aliases:
                shipping_settings.account(alias)
        except ImproperlyConfigured as err:
            raise CommandError(str(err)) from None
        if not aliases:
            raise CommandError("No shipping accounts are configured.")
        failed = []
        for alias in aliases:
            try:
                merchant = services.check_account(alias)
            except NotImplementedError:
                self.stdout.write(f"{alias}: skipped (the provider has no merchant endpoint)")
                continue
            except (ShippingOrdersError, ImproperlyConfigured) as err:
                failed.append(alias)
                self.stderr.write(f"{alias}: {_why(err, alias)}")
                continue
            webhook = scrub(merchant.webhook_url, alias) or "none registered"
            self.stdout.write(
                self.style.SUCCESS(f"{alias}: key works")
                + f" — merchant {merchant.name or '(unnamed)'}"
                + (f" <{merchant.email}>" if merchant.email else "")
                + f"; webhook URL: {webhook}"
            )
        if failed:
            raise CommandError(f"{len(failed)} account(s) failed: {', '.join(failed)}.")


def _why(err: Exception, alias: str) -> str:
    if isinstance(err, InvalidMerchantAccount) or (
        isinstance(err, ProviderAPIError) and err.status_code == 401
    ):
        return f"the provider refused the API key ({scrub(str(err), alias)})"
    return f"could not be checked: {scrub(str(err), alias)}"
