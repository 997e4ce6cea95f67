"""The requests API (`/api/v1/service-types/`, `/api/v1/requests/`).

Scopes (OAuth clients): `requests:read` to read, `requests:write` to file a request or take a
step, and `requests:pii` to see a request's personal data: the civilian's own words
(`description`) and their name and contact details (`contact`). Without it both fields are
absent from every representation of a request, the answer to a filing or a step included.
Whoever calls sees what the user they act for sees on the screens: a civilian their own
requests, staff the requests of their programs (every program with `view_all_requests`).
Every change goes through `service_requests.services`, which checks the acting user's rights
again and records history with them.

Filing a request needs an `Idempotency-Key` header: a retry with the same key returns the
request first filed (200), the same key with a different request is refused (409).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import RejectNulMixin, has_scope, idempotency_key, oauth_token

from . import selectors, services
from .filing_limits import filing_refusal
from .models import MAX_DESCRIPTION, ServiceRequest, ServiceType, Status
from .ratelimit import client_address

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PII_SCOPE = "requests:pii"
# The serializer context's flag: show `description` and `contact`.
SHOW_PERSONAL = "show_personal"
# Idempotency keys become the service's submission token: one namespace, per acting user.
SUBMISSION_NAMESPACE = uuid.UUID("0d3b2a52-77b4-4a8e-9f1e-7a1d3c9b6f10")
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


# --- Service types --------------------------------------------------------------------------


class ServiceTypeSerializer(serializers.ModelSerializer):
    program = serializers.SlugRelatedField(slug_field="code", read_only=True)
    funding = serializers.BooleanField(source="is_funding", read_only=True)

    class Meta:
        model = ServiceType
        fields = [
            "code",
            "name",
            "description",
            "program",
            "funding",
            "currency",
            "max_amount_minor",
            "target_days",
        ]


class ByCode(CursorPagination):
    ordering = "code"


class ServiceTypeList(RejectNulMixin, generics.ListAPIView):
    """The services civilians may ask for (active service types)."""

    scope_resource = "requests"
    serializer_class = ServiceTypeSerializer
    pagination_class = ByCode

    def get_queryset(self) -> QuerySet[ServiceType]:
        return selectors.service_types_open()


class ServiceTypeDetail(RejectNulMixin, generics.RetrieveAPIView):
    scope_resource = "requests"
    serializer_class = ServiceTypeSerializer
    lookup_field = "code"

    def get_queryset(self) -> QuerySet[ServiceType]:
        return selectors.service_types_open()


# --- Requests -------------------------------------------------------------------------------


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField(allow_blank=True)


class RequestSerializer(serializers.ModelSerializer):
    """A request as the API shows it; `description` and `contact` (personal data) only with
    the `requests:pii` scope, otherwise absent. They are declared writable with
    `required=False` only so that the schema marks them optional: the serializer reads."""

    service_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    description = serializers.CharField(
        required=False, help_text="The civilian's own words. Only with `requests:pii`."
    )
    contact = ContactSerializer(
        required=False,
        help_text="The civilian's name and contact details. Only with `requests:pii`.",
    )

    class Meta:
        model = ServiceRequest
        fields = [
            "tracking_number",
            "service_type",
            "status",
            "status_label",
            "description",
            "amount_minor",
            "currency",
            "submitted_at",
            "updated_at",
            "contact",
        ]

    def to_representation(self, instance: ServiceRequest) -> dict[str, Any]:
        """The fields above, read straight from the row: DRF's generic path spent about 0.6 ms
        a row (`get_status_display` hashes every lazy choice label on each call), most of a
        100-row page's time."""
        labels = _status_labels()
        shown: dict[str, Any] = {
            "tracking_number": instance.tracking_number,
            "service_type": instance.service_type.code,
            "status": instance.status,
            "status_label": labels.get(instance.status, instance.status),
            "amount_minor": instance.amount_minor,
            "currency": instance.currency,
            "submitted_at": _DATETIME.to_representation(instance.submitted_at),
            "updated_at": _DATETIME.to_representation(instance.updated_at),
        }
        if self.context.get(SHOW_PERSONAL):
            shown["description"] = instance.description
            shown["contact"] = {
                "name": instance.contact_name,
                "email": instance.contact_email,
                "phone": instance.contact_phone,
            }
        return shown


# The columns `RequestSerializer.to_representation` reads: all the list fetches.
REQUEST_COLUMNS = (
    "tracking_number",
    "service_type__code",
    "status",
    "description",
    "amount_minor",
    "currency",
    "submitted_at",
    "updated_at",
    "contact_name",
    "contact_email",
    "contact_phone",
)
_DATETIME = serializers.DateTimeField()


def _status_labels() -> dict[str, str]:
    """Each status's label in the active language."""
    language = get_language() or ""
    labels = _STATUS_LABELS.get(language)
    if labels is None:
        labels = _STATUS_LABELS[language] = {str(v): str(label) for v, label in Status.choices}
    return labels


_STATUS_LABELS: dict[str, dict[str, str]] = {}


class RequestCreateSerializer(serializers.Serializer):
    service_type = serializers.SlugField(max_length=40, help_text="A service type's code.")
    description = serializers.CharField(max_length=MAX_DESCRIPTION)
    contact_name = serializers.CharField(max_length=120)
    contact_email = serializers.EmailField(max_length=254)
    contact_phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )
    amount_minor = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1
    )

    def validate_service_type(self, value: str) -> ServiceType:
        found = selectors.service_types_open().filter(code=value).first()
        if found is None:
            raise serializers.ValidationError("No open service has this code.")
        return found


class RequestFilterSerializer(serializers.Serializer):
    """The list's filters, from the query string."""

    status = serializers.CharField(required=False)
    service_type = serializers.CharField(required=False)
    updated_since = serializers.DateTimeField(required=False)

    def validate_status(self, value: str) -> list[str]:
        wanted = [v.strip() for v in value.split(",") if v.strip()]
        unknown = sorted(set(wanted) - set(Status.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {unknown[0]!r}; use one of: {', '.join(Status.values)}."
            )
        return wanted

    def validate_service_type(self, value: str) -> list[str]:
        codes = [v.strip() for v in value.split(",") if v.strip()]
        if any(not SLUG.fullmatch(code) for code in codes):
            raise serializers.ValidationError("Give service type codes, separated by commas.")
        return codes


def visible_requests(user: Any) -> QuerySet[ServiceRequest]:
    """The requests `user` may see on the screens: staff by program, a civilian their own."""
    if user.is_authenticated and user.is_staff:
        return selectors.requests_for_staff(user=user)
    return selectors.requests_of_civilian(user=user)


class NewestFirst(CursorPagination):
    ordering = ("-submitted_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100


def _show_personal(request: Request) -> bool:
    """A person sees the personal data of the requests they may see (their own, or their
    programs'); a client only with `requests:pii`."""
    return has_scope(request, PII_SCOPE)


class RequestListCreate(RejectNulMixin, generics.ListAPIView):
    """GET: the requests the caller may see, newest first (`?status=a,b`,
    `?service_type=code`, `?updated_since=<ISO 8601>`). POST: file a request for the acting
    user (`Idempotency-Key` required)."""

    scope_resource = "requests"
    serializer_class = RequestSerializer
    pagination_class = NewestFirst

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), SHOW_PERSONAL: _show_personal(self.request)}

    def get_queryset(self) -> QuerySet[ServiceRequest]:
        requests = (
            visible_requests(self.request.user)
            .select_related("service_type")
            .only(*REQUEST_COLUMNS)
        )
        filters = RequestFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        if wanted.get("status"):
            requests = requests.filter(status__in=wanted["status"])
        if wanted.get("service_type"):
            type_ids = list(
                ServiceType.objects.filter(code__in=wanted["service_type"]).values_list(
                    "pk", flat=True
                )
            )
            requests = requests.filter(service_type_id__in=type_ids)
        if wanted.get("updated_since"):
            requests = requests.filter(updated_at__gte=wanted["updated_since"])
        return requests

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, description="Comma-separated statuses"),
            OpenApiParameter("service_type", OpenApiTypes.STR, description="Service type codes"),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RequestCreateSerializer,
        responses={201: RequestSerializer, 200: RequestSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
            )
        ],
    )
    def post(self, request: Request) -> Response:
        incoming = RequestCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        key = idempotency_key(request)
        token = uuid.uuid5(SUBMISSION_NAMESPACE, f"{request.user.pk}:{key}")
        if oauth_token(request) is None:
            # A person filing through the API counts as on the form; an OAuth client files
            # under its own rate (ClientRateThrottle).
            refusal = filing_refusal(
                user=request.user, address=client_address(request), submission_token=token
            )
            if refusal is not None:
                raise Throttled(wait=refusal.retry_after, detail=refusal.message)
        created, is_new = services.request_submit(
            actor=request.user,  # type: ignore[arg-type]
            service_type=data["service_type"],
            description=data["description"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
            contact_phone=data["contact_phone"],
            amount_minor=data["amount_minor"],
            submission_token=token,
        )
        if not is_new:
            services.request_validate_resubmission(created, data)
        out = RequestSerializer(created, context=self.get_serializer_context()).data
        return Response(out, status=status.HTTP_201_CREATED if is_new else status.HTTP_200_OK)


class RequestDetail(RejectNulMixin, generics.RetrieveAPIView):
    scope_resource = "requests"
    serializer_class = RequestSerializer
    lookup_field = "tracking_number"

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), SHOW_PERSONAL: _show_personal(self.request)}

    def get_queryset(self) -> QuerySet[ServiceRequest]:
        return visible_requests(self.request.user).select_related("service_type")


# --- Steps ----------------------------------------------------------------------------------


def _assignee(username: str) -> User:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"assignee": ["No user has this username."]})
    return user  # type: ignore[return-value]


def _steps() -> dict[str, Callable[[Any, int, dict[str, Any]], Any]]:
    """The steps the API offers, each one service call; the service checks who may take it."""
    steps: dict[str, Callable[[Any, int, dict[str, Any]], Any]] = {
        "start_review": lambda actor, pk, d: services.request_start_review(
            actor=actor, request_id=pk
        ),
        "ask_info": lambda actor, pk, d: services.request_ask_info(
            actor=actor, request_id=pk, message=d["message"]
        ),
        "provide_info": lambda actor, pk, d: services.request_provide_info(
            actor=actor, request_id=pk, message=d["message"]
        ),
        "recommend": lambda actor, pk, d: services.request_recommend(
            actor=actor, request_id=pk, note=d["message"]
        ),
        "fulfil": lambda actor, pk, d: services.request_fulfil(actor=actor, request_id=pk),
        "assign": lambda actor, pk, d: services.request_assign(
            actor=actor, request_id=pk, assignee=_assignee(d["assignee"])
        ),
        "withdraw": lambda actor, pk, d: services.request_withdraw(
            actor=actor, request_id=pk, reason=d["message"]
        ),
    }
    return steps


STEPS = _steps()


class StepSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted(STEPS))
    message = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION
    )
    assignee = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "assign" and not attrs["assignee"]:
            raise serializers.ValidationError({"assignee": ["Name the user to assign."]})
        return attrs


class RequestStep(RejectNulMixin, APIView):
    """Take a step on a request: staff `start_review`, `ask_info` (message), `recommend`
    (optional note in message), `fulfil`, `assign` (assignee); the civilian who filed it
    `provide_info` (message, a public update) and `withdraw`. A step the acting user may not
    take answers 403 (`forbidden`); one the request's state no longer allows, 409 (`stale`)."""

    scope_resource = "requests"

    @extend_schema(request=StepSerializer, responses={200: RequestSerializer})
    def post(self, request: Request, tracking_number: str) -> Response:
        found = (
            visible_requests(request.user)
            .filter(tracking_number=tracking_number)
            .values_list("pk", flat=True)
            .first()
        )
        if found is None:
            raise Http404
        incoming = StepSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        STEPS[data["action"]](request.user, found, data)
        current = ServiceRequest.objects.select_related("service_type").get(pk=found)
        context = {"request": request, SHOW_PERSONAL: _show_personal(request)}
        return Response(RequestSerializer(current, context=context).data)
