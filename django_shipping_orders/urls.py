"""The URLconf: the callback endpoint, the read-only API and its schema, the label views.

Include it under a prefix of your choice:
``path("shipping/", include("django_shipping_orders.urls"))``.
"""

from django.urls import path, re_path

from . import views
from .callbacks.views import CallbackView
from .schema import SCHEMA_PATH, SchemaView, api_patterns

app_name = "shipping_orders"

urlpatterns = [
    path("callbacks/<str:account>/", CallbackView.as_view(), name="callback"),
    path("callbacks/<str:account>/<str:token>/", CallbackView.as_view(), name="callback-token"),
    # The same without the trailing slash, and anything else under callbacks/, is answered
    # by the view: Django's 404 page, its slash redirect and its request log would show the
    # path, and a callback URL may carry the secret.
    re_path(r"^callbacks/(?P<account>[^/]+)/(?P<token>[^/]+)\Z", CallbackView.as_view()),
    re_path(r"^callbacks/(?P<account>[^/]+)\Z", CallbackView.as_view()),
    re_path(r"^callbacks/(?P<rest>.*)\Z", CallbackView.as_view()),
    path("labels/<int:pk>/", views.label_view, name="label"),
    *api_patterns(),
    path(SCHEMA_PATH, SchemaView.as_view(), name="api-schema"),
]
