from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/shipping_orders/order/")),
    path("admin/", admin.site.urls),
    path("shipping/", include("django_shipping_orders.urls")),
]
