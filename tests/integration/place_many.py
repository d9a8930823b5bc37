"""Place N orders in a loop, as a shop's checkout would; print what each call did (JSON).

Run by the busy-shop scenario in its own process (``tests.settings_startproject``).
Every call must return an order or raise a typed shipping error: anything
else is counted under ``raw`` with its type and message.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import django


def main(count: int) -> None:
    django.setup()
    from django_shipping_orders import services
    from django_shipping_orders.exceptions import ShippingOrdersError

    outcomes: Counter[str] = Counter()
    raw: list[str] = []
    for number in range(count):
        payload = {
            "retailer_reference": f"BUSY-{number:05d}",
            "retailer_order_number": f"{number:05d}",
            "receiver_name": "Busy Shop",
            "delivery_address": "1 Busy Street",
            "delivery_suburb": "Sydney",
            "delivery_state": "NSW",
            "delivery_postcode": "2000",
            "parcel_attributes": [{"qty": 1, "weight": 1.5}],
        }
        try:
            services.place_order("sandbox", payload)
        except ShippingOrdersError as err:
            outcomes[type(err).__name__] += 1
        except Exception as err:  # what must never happen
            outcomes["raw"] += 1
            raw.append(f"{type(err).__name__}: {err}")
        else:
            outcomes["order"] += 1
    print(json.dumps({"outcomes": dict(outcomes), "raw": raw[:20]}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
