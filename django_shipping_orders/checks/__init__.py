"""System checks of the app (ids ``shipping_orders.E0xx`` / ``W0xx``), registered on import.

They read settings only: no database, no network, so they are safe in
``manage.py check --deploy`` on a build machine. ``setting`` checks the shape
of ``SHIPPING_ORDERS`` (its accounts in ``accounts``, its rate limit cache in
``rate_cache``), ``values`` the values that have the right type but cannot
work, ``environment`` what the app needs around it (django-q2, SQLite).
"""

from . import environment, setting, values
from .rate_cache import SAFE_SHARED_ENTRIES, is_backend
from .setting import check_settings

__all__ = [
    "SAFE_SHARED_ENTRIES",
    "check_settings",
    "environment",
    "is_backend",
    "setting",
    "values",
]
