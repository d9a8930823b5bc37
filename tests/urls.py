from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
]

try:  # the callback view and API land with their own modules
    urlpatterns.append(path("shipping/", include("django_shipping_orders.urls")))
except ImportError:  # pragma: no cover
    pass
