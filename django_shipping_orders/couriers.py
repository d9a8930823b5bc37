"""Couriers by one name: the key an order is filtered by, and the name people read.

Shippit names the courier twice, differently: ``courier_allocation``
("CouriersPlease") in the order document and ``courier_name`` ("Couriers
Please") in webhooks and answers. Both become one key, so one courier is one
filter entry: the name folded (compatibility forms, accents dropped, case
folded) with every letter and digit kept, of any script ("Zariņš" and
"Zarins" give ``zarins``, "Почта России" ``почтароссии``), then looked up in
:data:`ALIASES` ("AusPost" is "Australia Post"). The name shown for a key
comes from ``SHIPPING_ORDERS["COURIER_NAMES"]``, then from the built-in list
below, then from the name the provider sent.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: Keys that name the same courier as another key (folded spelling -> key).
ALIASES: dict[str, str] = {
    "auspost": "australiapost",
    "australiaposteparcel": "eparcel",
    "australiaposteparcelexpress": "eparcelexpress",
    "australiaposteparcelinternational": "eparcelinternational",
    "bondscouriers": "bonds",
    "alliedexpress": "allied",
}

#: Display names of couriers the providers are known to name (key -> name).
BUILTIN_NAMES: dict[str, str] = {
    "couriersplease": "Couriers Please",
    "australiapost": "Australia Post",
    "eparcel": "Australia Post eParcel",
    "eparcelexpress": "Australia Post eParcel Express",
    "eparcelinternational": "Australia Post eParcel International",
    "startrack": "StarTrack",
    "startrackexpress": "StarTrack Express",
    "aramex": "Aramex",
    "fastway": "Aramex (Fastway)",
    "tnt": "TNT",
    "dhl": "DHL",
    "dhlexpress": "DHL Express",
    "bonds": "Bonds Couriers",
    "allied": "Allied Express",
    "sendle": "Sendle",
    "omniva": "Omniva",
    "dpd": "DPD",
    "venipak": "Venipak",
    "latvijaspasts": "Latvijas Pasts",
}


def normalize(name: str | None) -> str:
    """The courier key of ``name``: ``"Couriers Please"`` and ``"CouriersPlease"`` give ``"couriersplease"``."""
    key = _fold(name or "")
    return ALIASES.get(key, key)[:64]


@lru_cache(maxsize=1024)
def _fold(name: str) -> str:
    # NFKD splits "ņ" into "n" and a combining mark, and full-width forms into
    # plain ones; marks are dropped, letters and digits of every script kept.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = "".join(
        char
        for char in decomposed
        if char.isalnum() and not unicodedata.category(char).startswith("M")
    )
    return unicodedata.normalize("NFC", kept)


def display_name(key: str, fallback: str = "") -> str:
    """The name people read for courier ``key`` (settings first, then the built-in list)."""
    if not key:
        return fallback
    from .conf import shipping_settings

    configured = _by_key(tuple(shipping_settings.courier_names.items()))
    return configured.get(key) or BUILTIN_NAMES.get(key) or fallback or key


@lru_cache(maxsize=8)
def _by_key(names: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """``COURIER_NAMES`` keyed by courier key, built once per setting value."""
    return {normalize(name): shown for name, shown in names}
