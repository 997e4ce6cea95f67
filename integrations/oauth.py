"""OAuth 2.0 client credentials for the bureau's other systems (django-oauth-toolkit).

- `ClientValidator` issues tokens only to clients with an active `ApiClient`, with at most the
  scopes granted to it (`ClientScopes`), and refuses the tokens of a revoked client at once.
- `ClientCredentialsAuthentication` makes the client act for its configured user
  (`Application.user`): `request.user` is that user, so the screens' permission rules apply
  unchanged, and `request.auth` is the token, whose scopes `core.api.HasScope` checks.
  The client is also noted on the Django request so history rows name it
  (`integrations.receivers.name_client_in_history`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes
from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions
from rest_framework.request import Request

from .models import ApiClient

TOKEN_URL = "/o/token/"


def _client_of(application: Any) -> ApiClient | None:
    """The application's `ApiClient`, from the select_related cache when loaded with it."""
    try:
        return application.api_client  # type: ignore[no-any-return]
    except ApiClient.DoesNotExist:
        return None


class ClientScopes(SettingsScopes):
    """A client may ask for the scopes the bureau granted it, and gets all of them by default."""

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return []
        client = ApiClient.objects.filter(application=application, active=True).first()
        return client.scope_list if client is not None else []

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return self.get_available_scopes(application, request, *args, **kwargs)


class ClientValidator(OAuth2Validator):
    """DOT's validator, refusing revoked clients at the token endpoint and on every call."""

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        return ApiClient.objects.filter(application=request.client, active=True).exists()

    def _load_access_token(self, token: str) -> Any:
        # DOT's lookup by checksum, with one join loading the client's policy and the user the
        # client acts for: a call costs one query to authenticate.
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        return (
            get_access_token_model()
            .objects.select_related("application__api_client", "application__user", "user")
            .filter(token_checksum=checksum)
            .first()
        )

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        client = _client_of(request.access_token.application)
        if client is None or not client.active:
            request.oauth2_error = OrderedDict(
                [("error", "invalid_token"), ("error_description", _("The client is revoked."))]
            )
            return False
        return True


class ClientCredentialsAuthentication(OAuth2Authentication):
    """Bearer tokens of OAuth clients; the client acts for its configured user."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        application = token.application
        # Client credentials carry no user of their own: the client acts for its owner.
        acting = user if user is not None else application.user
        if acting is None or not acting.is_active:
            raise exceptions.AuthenticationFailed(
                _("This client acts for no active user; ask the bureau to configure it."),
                code="client_without_user",
            )
        # Noted on the Django request, where history (and the access log) look for it.
        request._request.hms_api_client = application  # type: ignore[attr-defined]
        return acting, token


class ClientCredentialsScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme: OAuth 2.0 client credentials, with each operation's
    required scopes."""

    target_class = "integrations.oauth.ClientCredentialsAuthentication"
    name = "oauth2"
    priority = 1

    def get_security_requirement(self, auto_schema: Any) -> Any:
        from core.api import required_scopes

        scopes = required_scopes(auto_schema.view, auto_schema.method)
        if scopes is None:
            return None
        return {self.name: scopes}

    def get_security_definition(self, auto_schema: Any) -> Any:
        return {
            "type": "oauth2",
            "description": (
                "Client credentials: POST grant_type=client_credentials with HTTP Basic "
                "client_id:client_secret to the token URL; send the token as "
                "`Authorization: Bearer <token>`."
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_URL,
                    "scopes": dict(oauth2_settings.SCOPES),
                }
            },
        }
