"""Include under a prefix of your choice, e.g. ``path("shipping/", include("django_shipping_orders.urls"))``."""

from django.urls import path

from .views import CallbackView

app_name = "shipping_orders"

urlpatterns = [
    path("callbacks/<str:account>/", CallbackView.as_view(), name="callback"),
    path("callbacks/<str:account>/<str:token>/", CallbackView.as_view(), name="callback-token"),
]
