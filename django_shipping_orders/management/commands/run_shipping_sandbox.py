"""Run the sandbox provider with this project's sandbox accounts registered.

Every account whose ``PROVIDER`` is a sandbox adapter (``sandbox``,
``sandbox-senderlv`` or a subclass) is registered with its API key, its
dialect and a callback URL on this project (``--app-url`` plus the reversed
``shipping_orders:callback`` route), carrying the account's first callback
secret: in the header for the Shippit dialect, in the URL for Sender.lv's,
which calls a plain URL. Every flag of ``python -m django_shipping_orders.sandbox``
is accepted too; see ``--help``.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from ...conf import AccountSettings, shipping_settings
from ...exceptions import ShippingOrdersConfigurationError
from ...providers.sandbox import SandboxProvider, SandboxSenderLvProvider
from ...sandbox.cli import build_parser, run
from ...sandbox.world import SandboxAccount


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--app-url",
            default="http://127.0.0.1:8000",
            help="where this project answers, for callback URLs (default: %(default)s)",
        )
        parser.add_argument(
            "--no-project-accounts",
            action="store_true",
            help="do not register the sandbox accounts of SHIPPING_ORDERS",
        )
        # The sandbox's own flags, so that both entry points take the same options.
        for action in build_parser()._actions:
            if not isinstance(action, argparse._HelpAction):
                parser._add_action(action)

    def handle(self, *args: Any, app_url: str, no_project_accounts: bool, **options: Any) -> None:
        namespace = argparse.Namespace(
            **{k: v for k, v in options.items() if k in _sandbox_dests()}
        )
        if not no_project_accounts:
            project_accounts = self._project_accounts(app_url.rstrip("/"))
            namespace.account = [*project_accounts, *namespace.account]
            ports = {urlsplit(a.base_url or "").port for a in _sandbox_settings()}
            if options["port"] == 8765 and len(ports) == 1 and None not in ports:
                namespace.port = ports.pop()  # follow BASE_URL unless --port was given
            secrets = [secret for a in _sandbox_settings() for secret in a.callback_secrets]
            for account in project_accounts:
                shown = account.callback_url or ""
                for secret in secrets:  # a URL token is a secret: never print it
                    shown = shown.replace(secret, "<secret>")
                self.stdout.write(
                    f"Registered a {account.dialect} account; callbacks go to {shown}"
                )
        status = run(namespace)
        if status:
            raise CommandError(f"The sandbox stopped with status {status}.")

    def _project_accounts(self, app_url: str) -> list[SandboxAccount]:
        accounts = []
        for settings in _sandbox_settings():
            # _sandbox_settings keeps the two sandbox adapters only: one dialect or the other.
            shippit_dialect = _speaks_shippit(settings)
            secret = settings.callback_secrets[0] if settings.callback_secrets else None
            try:
                if not shippit_dialect and secret:
                    path = reverse("shipping_orders:callback-token", args=[settings.alias, secret])
                else:
                    path = reverse("shipping_orders:callback", args=[settings.alias])
            except NoReverseMatch:
                raise CommandError(
                    "Include django_shipping_orders.urls in your URLconf so the sandbox can call back."
                ) from None
            accounts.append(
                SandboxAccount(
                    api_key=settings.api_key,
                    dialect="shippit" if shippit_dialect else "senderlv",
                    callback_url=app_url + path,
                    secret_header=settings.callback_secret_header
                    if shippit_dialect and secret
                    else None,
                    secret=secret if shippit_dialect else None,
                )
            )
        return accounts


def _sandbox_settings() -> list[AccountSettings]:
    try:
        accounts = shipping_settings.accounts()
    except ShippingOrdersConfigurationError as err:
        raise CommandError(str(err)) from None
    return [
        a
        for a in accounts
        # A PROVIDER that names no class is not a sandbox (check E002 reports it).
        if isinstance(a.provider_class, type)
        and issubclass(a.provider_class, SandboxProvider | SandboxSenderLvProvider)
    ]


def _speaks_shippit(settings: AccountSettings) -> bool:
    cls = settings.provider_class
    return isinstance(cls, type) and issubclass(cls, SandboxProvider)


def _sandbox_dests() -> set[str]:
    return {action.dest for action in build_parser()._actions}
