"""How the models' JSON fields write numbers: ``PayloadEncoder``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


class PayloadEncoder(DjangoJSONEncoder):
    """Writes ``Decimal`` as a JSON number, so a stored payload reads like the one received.

    A number no JSON reader holds as a number (``1.5e400`` would read as
    infinity, which PostgreSQL refuses in ``jsonb``; ``1e-400`` as zero) is
    written as its text instead: kept exactly, and storable everywhere. So is
    one with more digits than a float holds (``0.1234567890123456789``, read
    back as ``0.12345678901234568``): a value too precise for its column is
    kept whole in ``raw``, and two payloads that differ only past the 17th
    digit are stored apart.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite() or not -300 < o.adjusted() < 300:
                return str(o)
            if o == o.to_integral_value() and "." not in str(o):
                return int(o)
            number = float(o)
            # The float's shortest text is what a JSON reader gives back: equal, or keep the text.
            return number if Decimal(repr(number)) == o else str(o)
        return super().default(o)
