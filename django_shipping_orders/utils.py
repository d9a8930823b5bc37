"""Small pure helpers shared by the admin, the API and the views; no Django models here."""

from __future__ import annotations


def safe_web_url(url: str) -> str:
    """``url`` if it is an http(s) link, else "" (never a ``javascript:`` link from a provider)."""
    text = (url or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""
