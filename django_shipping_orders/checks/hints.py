"""What the hints of the setting checks share: where the docs are, which known key was meant."""

from __future__ import annotations

import difflib
from typing import Any

DOCS = "See docs/settings.md."


def unknown_key_hint(unknown: list[str], known: dict[str, Any]) -> str:
    """``Did you mean …?`` for each near miss, then the known keys."""
    guesses = [
        f"{key} -> {match[0]}"
        for key in unknown
        if (match := difflib.get_close_matches(key.upper(), list(known), n=1, cutoff=0.7))
    ]
    meant = f"Did you mean: {', '.join(guesses)}? " if guesses else ""
    return f"{meant}Known keys: {', '.join(sorted(known))}. {DOCS}"
