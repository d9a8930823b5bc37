"""Secrets in log records: the app's loggers and Django's request loggers carry the filter."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from pathlib import Path

import pytest

import django_shipping_orders
from django_shipping_orders.redaction import DJANGO_LOGGERS, SecretsFilter

from .helpers import API_KEY, account

PACKAGE = Path(django_shipping_orders.__file__).parent


def test_no_module_of_the_app_makes_a_logger_without_the_filter():
    """New modules must use ``redaction.get_logger``; the sandbox holds no secret of the app."""
    plain = re.compile(r"logging\.getLogger\(")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts
        and path.name != "redaction.py"
        and plain.search(path.read_text())
    ]
    assert offenders == []


def test_every_logger_of_the_app_and_djangos_request_loggers_have_the_filter():
    for module in pkgutil.walk_packages([str(PACKAGE)], "django_shipping_orders."):
        if ".sandbox" not in module.name and ".migrations" not in module.name:
            importlib.import_module(module.name)
    names = [
        name
        for name in logging.Logger.manager.loggerDict
        if name.startswith("django_shipping_orders.") and ".sandbox" not in name
    ]
    assert names, "the app logs through named loggers"
    for name in [*names, *DJANGO_LOGGERS]:
        filters = logging.getLogger(name).filters
        assert any(isinstance(f, SecretsFilter) for f in filters), name


def test_the_filter_scrubs_message_arguments_and_tracebacks(scripted_server):
    with account(scripted_server.url):
        try:
            raise RuntimeError(f"provider said {API_KEY}")
        except RuntimeError as err:
            record = logging.LogRecord(
                "any", logging.ERROR, __file__, 1, "failed with %s", (err,), None
            )
            record.exc_info = (type(err), err, err.__traceback__)
        assert SecretsFilter().filter(record) is True
        text = logging.Formatter().format(record)
    assert API_KEY not in text
    assert text.count("[redacted]") == 2, "in the message and in the traceback"


@pytest.mark.parametrize("path", ["/shipping/callbacks/default/", "/anything/"])
def test_the_filter_documented_for_the_projects_handlers_scrubs_any_logger(path, scripted_server):
    """As ``LOGGING["filters"]`` builds it: the dotted path, on a handler of any logger."""
    from django.utils.module_loading import import_string

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(import_string("django_shipping_orders.redaction.SecretsFilter")())
    logger = logging.getLogger("shop.views.test")
    logger.addHandler(handler)
    try:
        with account(scripted_server.url, CALLBACK_SECRETS=["tok-never-logged"]):
            logger.warning("Not Found: %stok-never-logged/", path)
    finally:
        logger.removeHandler(handler)
    assert records == [f"Not Found: {path}[redacted]/"]
