"""The browser-facing security headers every response carries: the Content-Security-Policy
(django-csp, with the admin's documented relaxation) and the Permissions-Policy.

The policies themselves are settings (`CONTENT_SECURITY_POLICY`, `HMS_CSP_ADMIN_UPDATE`,
`HMS_PERMISSIONS_POLICY`); these classes only decide which one a response gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

PERMISSIONS_POLICY = "Permissions-Policy"


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp's middleware; under `HMS_CSP_ADMIN_PREFIX` (the unfold admin) the policy is
    widened by `HMS_CSP_ADMIN_UPDATE`: unfold's Alpine.js build compiles its expressions with
    `new Function` ('unsafe-eval') and its templates carry inline `<style>` blocks and `style`
    attributes ('unsafe-inline' styles). Everything else keeps the strict default. A view's own
    `csp_update`/`csp_replace` decorator wins over the admin's widening."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        widen: Mapping[str, list[str]] | None = getattr(settings, "HMS_CSP_ADMIN_UPDATE", None)
        if (
            not report_only
            and widen
            and parts.update is None
            and parts.replace is None
            and request.path_info.startswith(settings.HMS_CSP_ADMIN_PREFIX)
        ):
            parts.update = dict(widen)
        return parts


def permissions_policy_header(policy: Mapping[str, list[str]]) -> str:
    """`{"camera": [], "publickey-credentials-get": ["self"]}` as the header's structured
    field: `camera=(), publickey-credentials-get=(self)`."""
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())


class PermissionsPolicyMiddleware:
    """Add `Permissions-Policy` (from `HMS_PERMISSIONS_POLICY`) to every response that has
    none: the portal uses no camera, microphone, location, payment or USB; passkeys
    (`publickey-credentials-get`/`-create`) work on the portal's own pages only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.header = permissions_policy_header(settings.HMS_PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if PERMISSIONS_POLICY not in response:
            response[PERMISSIONS_POLICY] = self.header
        return response
