"""Give each provider the account's callback URL (``PUT /merchant``), as the official plugins do.

::

    manage.py register_shipping_webhooks --base-url https://shop.example
    manage.py register_shipping_webhooks --base-url https://shop.example --dry-run
    manage.py register_shipping_webhooks au-warehouse --base-url https://shop.example

The URL is this app's callback view for the account, carrying the account's
first ``CALLBACK_SECRETS`` entry: as the URL token
(``.../callbacks/<account>/<secret>/``), or as ``?<param>=<secret>`` when
the account sets ``CALLBACK_SECRET_PARAM``. ``--dry-run`` prints what would
be sent without sending it. Secrets are printed as ``[redacted]`` unless
``--show-secrets`` is given. Exits 1 when a provider refused, after trying
the others.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from ... import services
from ...conf import AccountSettings, shipping_settings
from ...exceptions import ShippingOrdersError
from ...redaction import scrub


def callback_url(base_url: str, account: AccountSettings) -> str:
    """The URL the provider should post ``account``'s webhooks to, secret included."""
    secret = account.callback_secrets[0] if account.callback_secrets else ""
    try:
        if secret and not account.callback_secret_param:
            path = reverse(
                "shipping_orders:callback-token", args=[account.alias, quote(secret, safe="")]
            )
        else:
            path = reverse("shipping_orders:callback", args=[account.alias])
    except NoReverseMatch:
        raise CommandError(
            "The app's URLs are not installed: include django_shipping_orders.urls in the URLconf."
        ) from None
    url = base_url.rstrip("/") + path
    if secret and account.callback_secret_param:
        url += "?" + urlencode({account.callback_secret_param: secret})
    return url


class Command(BaseCommand):
    help = "Register each shipping account's callback URL with its provider (PUT /merchant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="Account aliases.")
        parser.add_argument(
            "--base-url",
            required=True,
            help="Where the shop is reached from the internet, e.g. https://shop.example",
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would be sent.")
        parser.add_argument(
            "--show-secrets", action="store_true", help="Print secrets instead of [redacted]."
        )

    def handle(self, *args: Any, accounts: list[str], **options: Any) -> None:
        base_url = options["base_url"]
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CommandError(f"--base-url must be an http(s) URL, got {base_url!r}.")
        try:
            aliases = accounts or shipping_settings.account_aliases
            configs = [shipping_settings.account(alias) for alias in aliases]
        except ImproperlyConfigured as err:
            raise CommandError(str(err)) from None
        failed = []
        for account in configs:
            url = callback_url(base_url, account)
            shown = url if options["show_secrets"] else _hide(url, account)
            if not account.callback_secrets:
                self.stderr.write(
                    f"{account.alias}: no CALLBACK_SECRETS; the URL carries no secret and "
                    "callbacks are refused while DEBUG is off."
                )
            if options["dry_run"]:
                body = json.dumps({"merchant": {"webhook_url": shown}})
                self.stdout.write(f"{account.alias}: would send PUT /merchant {body}")
                continue
            try:
                merchant = services.register_webhook_url(account.alias, url)
            except NotImplementedError:
                self.stdout.write(
                    f"{account.alias}: skipped (the provider has no merchant endpoint)"
                )
                continue
            except (ShippingOrdersError, ImproperlyConfigured) as err:
                failed.append(account.alias)
                self.stderr.write(f"{account.alias}: not registered: {scrub(str(err), account)}")
                continue
            self.stdout.write(
                self.style.SUCCESS(f"{account.alias}: webhook URL registered")
                + f" ({shown}) for merchant {merchant.name or '(unnamed)'}"
            )
        if failed:
            raise CommandError(f"{len(failed)} account(s) failed: {', '.join(failed)}.")


def _hide(url: str, account: AccountSettings) -> str:
    """``url`` with its secret blanked out, however the query string wrote it (``+`` for a space)."""
    return scrub(url, account)
