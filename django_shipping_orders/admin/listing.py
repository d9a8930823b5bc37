"""What keeps the order list fast on a big table: a bounded count, a cheap date bar, counts cached.

- :class:`BoundedPaginator` counts at most ``COUNT_LIMIT`` + 1 rows: "more
  than 10 000 orders" is all a clerk needs to know, and counting every row
  of a large table is what made the page slow.
- :func:`date_bar` builds the date drill-down from the first and last date of
  the list (two index lookups) instead of ``SELECT DISTINCT`` over every date.
- :func:`state_counts` counts open orders per state once per ``COUNTS_TTL``,
  through the state index (:func:`open_states`);
- :func:`distinct_values` reads the values of an indexed column one index
  probe each, for the filters' choices.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Max, Min
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .. import states
from ..models import Order
from ..utils import column_name

#: The most rows the list counts; past it the page says "more than".
COUNT_LIMIT = 10_000
#: Seconds the counts on top of the list are reused: they are read on every page load.
COUNTS_TTL = 30
STATE_COUNTS_CACHE_KEY = "shipping_orders:admin:state_counts"
OPEN_STATES_CACHE_KEY = "shipping_orders:admin:open_states"
OPEN_STATES_TTL = 10


def distinct_values(field: str, *, limit: int = 200) -> list[str]:
    """The distinct non-empty values of an indexed ``Order`` column, one index probe each.

    A recursive query asks the index for the smallest value above the last
    one found (PostgreSQL, SQLite, MySQL 8 and MariaDB all run it), so the
    cost grows with the number of distinct values, not with the table.
    """
    table = connection.ops.quote_name(Order._meta.db_table)
    column = connection.ops.quote_name(column_name(Order, field))
    # Only names from the model's own metadata go into the text; values are parameters.
    sql = (
        f"WITH RECURSIVE seen (v, n) AS ("  # noqa: S608
        f" SELECT MIN({column}), 1 FROM {table} WHERE {column} > %s"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > seen.v), n + 1"
        f" FROM seen WHERE seen.v IS NOT NULL AND n < %s"
        f") SELECT v FROM seen WHERE v IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["", limit])
        return [row[0] for row in cursor.fetchall()]


def open_states() -> list[str]:
    """The states of open orders present now ("" included): an indexable ``state IN (…)``.

    ``state NOT IN (final states)`` reads every row; the few states present,
    minus the final ones, select the same orders through the state index.
    Kept a few seconds: one page asks several times.
    """
    found = cache.get(OPEN_STATES_CACHE_KEY)
    if found is None:
        found = ["", *(s for s in distinct_values("state") if not states.is_terminal(s))]
        cache.set(OPEN_STATES_CACHE_KEY, found, OPEN_STATES_TTL)
    return list(found)


class BoundedPaginator(Paginator):
    """A paginator whose count stops at ``COUNT_LIMIT`` + 1 (pages past the limit are not offered)."""

    limit = COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "order_by"):
            # The rows' order does not change how many there are.
            return int(object_list.order_by()[: self.limit + 1].count())
        return len(object_list)

    @property
    def bounded(self) -> bool:
        """True when there are more rows than were counted."""
        return self.count > self.limit


def _local(value: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def date_bar(cl: ChangeList) -> dict[str, Any]:
    """The context of ``admin/date_hierarchy.html``, like Django's but without scanning dates.

    The choices run from the list's first to its last date: a month or a day
    in between that had no orders is offered too (and shows an empty list).
    """
    field = cl.date_hierarchy
    if not field:
        return {"show": False}
    year_field, month_field, day_field = f"{field}__year", f"{field}__month", f"{field}__day"
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return str(cl.get_query_string(filters, [f"{field}__"]))

    if year and month and day:
        chosen = datetime.date(int(str(year)), int(str(month)), int(str(day)))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    bounds = cl.queryset.order_by().aggregate(first=Min(field), last=Max(field))
    first, last = bounds["first"], bounds["last"]
    if first is None or last is None:
        return {"show": False}
    first, last = _local(first), _local(last)
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    if year and month:
        days = [
            first.date() + datetime.timedelta(days=offset)
            for offset in range((last.date() - first.date()).days + 1)
        ]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        months = [datetime.date(int(str(year)), m, 1) for m in range(first.month, last.month + 1)]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in months
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: y}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


def state_counts(*, fresh: bool = False) -> list[tuple[str, int]]:
    """Open orders per state, in happy-path order; one GROUP BY, kept ``COUNTS_TTL`` seconds."""
    cached = None if fresh else cache.get(STATE_COUNTS_CACHE_KEY)
    if cached is None:
        rows = (
            Order.objects.filter(state__in=open_states())
            .exclude(reference__isnull=True)
            .order_by()
            .values_list("state")
            .annotate(n=Count("pk"))
        )
        cached = sorted(
            ((state, int(n)) for state, n in rows),
            key=lambda item: (
                states.state_rank(item[0]) is None,
                states.state_rank(item[0]) or 0,
                item[0],
            ),
        )
        cache.set(STATE_COUNTS_CACHE_KEY, cached, COUNTS_TTL)
    return list(cached)
