"""The webhooks API (`/api/v1/webhooks/`): an OAuth client manages its own subscriptions and
reads its own deliveries (scope `webhooks:manage`). People have no subscriptions: staff see
every subscription and delivery in the admin.

Creating a subscription needs an `Idempotency-Key`; the answer carries the signing `secret`
(kept by the bureau to sign, never shown in lists).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import RejectNulMixin, idempotency_key, oauth_token

from . import services
from .models import ApiClient, Delivery, DeliveryStatus, Subscription
from .outbox import EVENT_SPECS

SCOPES = ["webhooks:manage"]


def client_of(request: Request) -> ApiClient:
    """The calling OAuth client, or 403 for a person."""
    token = oauth_token(request)
    client = getattr(token.application, "api_client", None) if token is not None else None
    if client is None:
        raise PermissionDenied("Only API clients have webhook subscriptions.")
    return client  # type: ignore[no-any-return]


class SubscriptionSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_SPECS)), allow_empty=False
    )

    class Meta:
        model = Subscription
        fields = ["id", "event_types", "target_url", "description", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = [*SubscriptionSerializer.Meta.read_only_fields, "secret"]


class ById(CursorPagination):
    ordering = "-id"


class SubscriptionListCreate(RejectNulMixin, generics.ListAPIView):
    """GET: the client's subscriptions. POST: subscribe (`Idempotency-Key` required); the
    answer includes the signing secret."""

    required_scopes = SCOPES
    serializer_class = SubscriptionSerializer
    pagination_class = ById

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(client=client_of(self.request))

    @extend_schema(
        request=SubscriptionSerializer,
        responses={201: SubscriptionWithSecretSerializer, 200: SubscriptionWithSecretSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
            )
        ],
    )
    def post(self, request: Request) -> Response:
        client = client_of(request)
        incoming = SubscriptionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        subscription, is_new = services.subscription_create(
            actor=request.user,  # type: ignore[arg-type]
            client=client,
            event_types=data["event_types"],
            target_url=data["target_url"],
            description=data.get("description", ""),
            idempotency_key=idempotency_key(request),
        )
        return Response(
            SubscriptionWithSecretSerializer(subscription).data,
            status=status.HTTP_201_CREATED if is_new else status.HTTP_200_OK,
        )


class SubscriptionDetail(RejectNulMixin, generics.RetrieveAPIView):
    """GET one; PATCH its event types, URL, description or `active`; DELETE stops it."""

    required_scopes = SCOPES
    serializer_class = SubscriptionSerializer

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(client=client_of(self.request))

    @extend_schema(request=SubscriptionSerializer, responses={200: SubscriptionSerializer})
    def patch(self, request: Request, pk: str) -> Response:
        subscription = self.get_object()
        incoming = SubscriptionSerializer(subscription, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data: dict[str, Any] = incoming.validated_data
        updated = services.subscription_update(
            actor=request.user,  # type: ignore[arg-type]
            subscription_id=subscription.pk,
            event_types=data.get("event_types"),
            target_url=data.get("target_url"),
            description=data.get("description"),
            active=data.get("active"),
        )
        return Response(SubscriptionSerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: str) -> Response:
        subscription = self.get_object()
        services.subscription_deactivate(actor=request.user, subscription_id=subscription.pk)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "subscription",
            "status",
            "attempts",
            "last_status_code",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class NewestDeliveries(CursorPagination):
    ordering = ("-created_at", "-id")


class DeliveryList(RejectNulMixin, generics.ListAPIView):
    """The client's deliveries, newest first (`?status=pending|delivered|failed`)."""

    required_scopes = SCOPES
    serializer_class = DeliverySerializer
    pagination_class = NewestDeliveries

    def get_queryset(self) -> QuerySet[Delivery]:
        deliveries = Delivery.objects.filter(subscription__client=client_of(self.request))
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in DeliveryStatus.values:
                raise ValidationError({"status": [f"Use one of: {', '.join(DeliveryStatus)}."]})
            deliveries = deliveries.filter(status=wanted)
        return deliveries.select_related("event")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=["pending", "delivered", "failed"])
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
