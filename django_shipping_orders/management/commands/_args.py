"""Parsing of the commands' arguments: ages (``90d``) and moments (``2025-01-01``, ``7d``).

Also the help formatter that keeps the line breaks of an epilog (the exit
status tables of the commands).
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta

from django.core.management.base import DjangoHelpFormatter
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
    return timedelta(**{_AGE_UNITS[unit]: int(number)})


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment from ``"2025-01-01"``, an ISO 8601 time, or an age back from now (``"7d"``)."""
    now = now or timezone.now()
    try:
        return now - parse_age(text)
    except ValueError:
        pass
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


class EpilogHelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, with the epilog (the exit status table) printed as written."""
