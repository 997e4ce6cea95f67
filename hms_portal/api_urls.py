"""`/api/v1/`: the apps' endpoints, the OpenAPI schema and its browsable docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ledger import api as ledger_api

app_name = "api"

urlpatterns = [
    path("ledger/transfers/", ledger_api.TransferListCreate.as_view(), name="ledger-transfers"),
    path("ledger/accounts/", ledger_api.AccountList.as_view(), name="ledger-accounts"),
    path(
        "ledger/accounts/<str:code>/",
        ledger_api.AccountDetail.as_view(),
        name="ledger-account",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
