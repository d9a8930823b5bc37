"""Parsing of the commands' arguments: ages (``90d``) and moments (``2025-01-01``, ``7d``).

Also the help formatter that keeps the line breaks of an epilog (the exit
status tables of the commands).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from django.core import checks
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

_AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


def parse_age(text: str) -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"2w"`` (a bare number is days); ``ValueError`` otherwise."""
    match = _AGE_RE.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an age such as 90d, 12h, 30m or 2w")
    number, unit = match.groups()
    try:
        return timedelta(**{_AGE_UNITS[unit]: int(number)})
    except OverflowError:
        raise ValueError(
            f"{text.strip()!r} is too long an age (at most {timedelta.max.days}d)"
        ) from None


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment from ``"2025-01-01"``, an ISO 8601 time, or an age back from now (``"7d"``)."""
    now = now or timezone.now()
    try:
        age = parse_age(text)
    except ValueError:
        age = None
    if age is not None:
        return moment_before(now, age, text)
    moment = None
    try:
        moment = parse_datetime(text.strip())
        if moment is None and (day := parse_date(text.strip())) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(
            f"{text!r} is neither a date (2025-01-01), a time (2025-01-01T08:00) nor an age (7d)"
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def moment_before(now: datetime, age: timedelta, text: str) -> datetime:
    """``now - age``; ``ValueError`` when that is before year 1."""
    try:
        return now - age
    except OverflowError:
        raise ValueError(f"{text.strip()!r} reaches back before year 1") from None


def parse_ids(values: list[str], option: str) -> list[int]:
    """Database ids from the command line: whole numbers from 1 to 2**63 - 1."""
    ids = []
    for value in values:
        text = value.strip()
        if not text.isdigit() or not 1 <= int(text) < 2**63:
            raise CommandError(f"{option}: {value!r} is not a record id (a whole number from 1).")
        ids.append(int(text))
    return ids


def parse_share(text: str, option: str) -> float:
    """A share between 0 and 1 (``0.8``); nan, inf and anything outside are refused."""
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not math.isfinite(share) or not 0 <= share <= 1:
        raise CommandError(f"{option} must be a number from 0 to 1, got {text!r}.", returncode=2)
    return share


def printable(text: str, option: str) -> str:
    """A command-line value that can be printed and stored (no lone surrogates, no NUL)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError(
            f"{option}: {text.encode('utf-8', 'backslashreplace').decode('ascii', 'replace')!r}"
            " is not valid text (a byte sequence that is not UTF-8?).",
            returncode=2,
        ) from None
    if "\x00" in text:
        raise CommandError(f"{option}: {text!r} contains a NUL character.", returncode=2)
    return text


class SettingsExitTwo(BaseCommand):
    """Base of the commands whose exit status 2 means "could not tell (bad arguments or settings)".

    Django's own system check run exits 1, which these commands keep for "unhealthy"
    or "some orders failed"; so the checks run here instead, and a serious message
    becomes a one-line error with status 2. Under ``--json`` an error of status 2
    is also printed as ``{"error": ...}`` on standard output.
    """

    requires_system_checks = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            if not options.get("skip_checks"):
                _raise_on_bad_settings()
            return super().execute(*args, **options)
        except CommandError as err:
            if options.get("json") and err.returncode == 2:
                self.stdout.write(json.dumps({"healthy": None, "error": str(err)}))
            raise


def _raise_on_bad_settings() -> None:
    serious = [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]
    if serious:
        first = serious[0]
        more = f" (and {len(serious) - 1} more)" if len(serious) > 1 else ""
        raise CommandError(
            f"Bad settings: {first.id}: {first.msg}{more}; manage.py check lists them.",
            returncode=2,
        )


class EpilogHelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, with the epilog (the exit status table) printed as written."""
