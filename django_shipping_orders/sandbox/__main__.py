"""``python -m django_shipping_orders.sandbox``: run the sandbox provider (see ``cli``)."""

import sys

from .cli import main

sys.exit(main())
