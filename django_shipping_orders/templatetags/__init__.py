"""Template tags of the app's admin pages (``{% load shipping_orders_admin %}``)."""
