"""`/o/`: the OAuth 2.0 token endpoint (client credentials) and token revocation only; the
bureau's clients are registered in the admin, so no authorization or registration pages."""

from django.urls import path
from oauth2_provider import views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
]
