"""`/api/v1/`: the apps' endpoints, the OpenAPI schema and its browsable docs.

Every endpoint names the OAuth scopes a client needs (`core.api.HasScope`); the ledger's
views are routed through subclasses that add its scopes (`ledger:read`, `ledger:write`) to its
own permission checks, so the ledger app knows nothing of OAuth.
"""

from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.api import HasScope, RejectNulMixin
from integrations import api as integrations_api
from ledger import api as ledger_api
from oversight import api as oversight_api
from service_requests import api as requests_api

app_name = "api"


def _scoped(view: Any, resource: str) -> Any:
    """The view with `<resource>:read|write` scopes checked before its own permissions."""
    return type(
        view.__name__,
        (RejectNulMixin, view),
        {
            "scope_resource": resource,
            "permission_classes": [HasScope, *view.permission_classes],
            "__doc__": view.__doc__,
            "__module__": view.__module__,
        },
    )


TransferListCreate = _scoped(ledger_api.TransferListCreate, "ledger")
AccountList = _scoped(ledger_api.AccountList, "ledger")
AccountDetail = _scoped(ledger_api.AccountDetail, "ledger")

urlpatterns = [
    path("ledger/transfers/", TransferListCreate.as_view(), name="ledger-transfers"),
    path("ledger/accounts/", AccountList.as_view(), name="ledger-accounts"),
    path("ledger/accounts/<str:code>/", AccountDetail.as_view(), name="ledger-account"),
    path("service-types/", requests_api.ServiceTypeList.as_view(), name="service-types"),
    path(
        "service-types/<str:code>/",
        requests_api.ServiceTypeDetail.as_view(),
        name="service-type",
    ),
    path("requests/", requests_api.RequestListCreate.as_view(), name="requests"),
    path(
        "requests/<str:tracking_number>/",
        requests_api.RequestDetail.as_view(),
        name="request",
    ),
    path(
        "requests/<str:tracking_number>/steps/",
        requests_api.RequestStep.as_view(),
        name="request-steps",
    ),
    path(
        "webhooks/subscriptions/",
        integrations_api.SubscriptionListCreate.as_view(),
        name="webhook-subscriptions",
    ),
    path(
        "webhooks/subscriptions/<str:pk>/",
        integrations_api.SubscriptionDetail.as_view(),
        name="webhook-subscription",
    ),
    path(
        "webhooks/deliveries/",
        integrations_api.DeliveryList.as_view(),
        name="webhook-deliveries",
    ),
    path("outcomes/", oversight_api.Outcomes.as_view(), name="outcomes"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's script served as a file (the split view), and its page's inline <style>.
    path(
        "docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
]
