"""A dozen believable orders for the demo, across both accounts."""

from __future__ import annotations

from typing import Any

_AU = [
    ("Olivia Nguyen", "12 Harbour St", "Sydney", "NSW", "2000", "Leave at reception"),
    ("Jack Wilson", "4/88 Chapel St", "Windsor", "VIC", "3181", ""),
    ("Mia Thompson", "27 Adelaide Tce", "Perth", "WA", "6000", "Ring the bell"),
    ("Noah Patel", "9 Eagle St", "Brisbane", "QLD", "4000", ""),
    ("Charlotte Brown", "150 Rundle Mall", "Adelaide", "SA", "5000", "Side door"),
    ("William Chen", "3 Salamanca Pl", "Hobart", "TAS", "7000", ""),
]
_LV = [
    ("Anna Bērziņa", "Brīvības iela 21", "Rīga", "", "LV-1010", "Pakomāts pie ieejas"),
    ("Jānis Kalniņš", "Elizabetes iela 45", "Rīga", "", "LV-1010", ""),
    ("Laura Ozola", "Lāčplēša iela 7", "Rīga", "", "LV-1011", ""),
    ("Mārtiņš Liepa", "Rīgas iela 3", "Jūrmala", "", "LV-2015", "Call on arrival"),
    ("Elīna Krūmiņa", "Kr. Valdemāra iela 10", "Rīga", "", "LV-1010", ""),
    ("Roberts Zariņš", "Skolas iela 5", "Sigulda", "", "LV-2150", ""),
]
_PRODUCTS = [
    ("Merino crew jumper", "JMP-MER-M", "49.95"),
    ("Canvas tote bag", "BAG-CNV-01", "19.00"),
    ("Ceramic pour-over set", "KIT-POUR-2", "64.50"),
    ("Linen tea towels (3)", "TT-LIN-3", "24.90"),
]


def demo_orders() -> list[tuple[str, dict[str, Any]]]:
    """``(account alias, order payload)`` pairs in the provider's documented shape."""
    orders = []
    for index, (name, street, suburb, state, postcode, note) in enumerate(_AU + _LV):
        australian = index < len(_AU)
        first, last = name.split(" ", 1)
        title, sku, price = _PRODUCTS[index % len(_PRODUCTS)]
        orders.append(
            (
                "au-warehouse" if australian else "riga-warehouse",
                {
                    "retailer_reference": f"#{1001 + index}",
                    "retailer_invoice": f"INV-{2026_0001 + index}",
                    "courier_type": "standard",
                    "authority_to_leave": "Yes" if index % 3 else "No",
                    "receiver_name": name,
                    "receiver_contact_number": f"0400 000 {index:03d}"
                    if australian
                    else f"+371 2000 {index:04d}",
                    "delivery_address": street,
                    "delivery_suburb": suburb,
                    "delivery_state": state,
                    "delivery_postcode": postcode,
                    "delivery_country_code": "AU" if australian else "LV",
                    "delivery_timezone": "Australia/Sydney" if australian else "Europe/Riga",
                    "delivery_instructions": note,
                    "product_currency": "AUD" if australian else "EUR",
                    "user_attributes": {
                        "email": f"{first.lower()}.{index}@example.com",
                        "first_name": first,
                        "last_name": last,
                        "mobile": "0400000000",
                    },
                    "parcel_attributes": [
                        {"qty": 1, "length": 0.3, "width": 0.2, "depth": 0.1, "weight": 1.2}
                    ]
                    * (1 + index % 2),
                    "product_attributes": [
                        {"title": title, "sku": sku, "price": price, "quantity": 1 + index % 2}
                    ],
                },
            )
        )
    return orders
