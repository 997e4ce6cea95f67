"""The OpenAPI schema's view of every endpoint: its documented answers include the shared error
body (`core.api`) for every refusal an API call can meet, so a client (and schemathesis)
knows each status code and its shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(help_text="Machine-readable, e.g. `stale`."),
                "message": serializers.CharField(),
                "fields": serializers.DictField(
                    required=False, help_text="Each invalid field's messages (400)."
                ),
                "index": serializers.IntegerField(
                    required=False, help_text="The refused item of a batch."
                ),
            },
        )
    },
)

ALWAYS = {
    "401": "Not authenticated: no, an expired, or a revoked token",
    "403": "The token lacks the scope, or the acting user the right",
    "429": "Over the rate limit (see Retry-After)",
}
WRITES = {
    "400": "Malformed input (`fields` names each problem)",
    "409": "Conflicts with the current state, or a reused Idempotency-Key",
    "422": "Refused by a business rule",
}
LOOKUPS = {"404": "Absent, or not visible to the acting user"}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with the error responses every operation may give, and
    read-only relations shown nullable when their model field is (a declared
    `SlugRelatedField(read_only=True)` does not say so itself)."""

    def _get_serializer_field_meta(self, field: Any, direction: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        if field.read_only and isinstance(field, serializers.RelatedField):
            model = getattr(getattr(field.parent, "Meta", None), "model", None)
            try:
                model_field = model._meta.get_field(field.source) if model else None
            except Exception:  # a source that is not a model field
                model_field = None
            if model_field is not None and getattr(model_field, "null", False):
                meta["nullable"] = True
        return meta

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        view = self.view
        if getattr(view, "scope_resource", None) is None and not hasattr(view, "required_scopes"):
            return responses  # the schema and docs views: public
        errors = dict(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITES)
        if "{" in self.path or self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(LOOKUPS)
        if self.method == "GET":
            errors["400"] = "Malformed query parameters"
        component = self.resolve_serializer(ErrorSerializer, "response")
        for code, description in errors.items():
            responses.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": component.ref}},
                    "description": description,
                },
            )
        return responses
