"""The ledger's API (`/api/v1/ledger/`): post transfers, one or a batch, and read transfers and
balances. Token authenticated; posting needs `ledger.add_transfer` (finance officers), reading
needs the view permissions (finance and auditors).

Every transfer carries a client-chosen idempotency key: in the item (`idempotency_key`), or, for
a single transfer, in the `Idempotency-Key` header; a batch item without one takes the header's
key followed by `:<index>`. A retry returns the transfers first written; the same key with
different content is refused (409, `idempotency_conflict`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from . import services
from .models import Account, Transfer

MAX_KEY = 128


def storable_text(value: str) -> None:
    """Refuse text PostgreSQL cannot store (a lone surrogate such as "\\ud800", which JSON
    can carry, or a NUL) as a field error, before it reaches a query."""
    if isinstance(value, str) and not services.text_is_storable(value):
        raise serializers.ValidationError(
            services.ERR_TEXT.format(field="text"), code="invalid_text"
        )


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(validators=[storable_text], **kwargs)


class TransferInSerializer(serializers.Serializer):
    """One transfer asked for; accounts by code, the amount in integer minor units."""

    idempotency_key = _text(max_length=MAX_KEY, required=False)
    debit_account = _text(max_length=64)
    credit_account = _text(max_length=64)
    amount_minor = serializers.IntegerField(min_value=1, max_value=services.MAX_AMOUNT_MINOR - 1)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    pending = serializers.BooleanField(default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    reference = _text(max_length=128, required=False, default="", allow_blank=True)
    memo = _text(max_length=255, required=False, default="", allow_blank=True)


class TransferBatchSerializer(serializers.Serializer):
    transfers = TransferInSerializer(many=True, max_length=services.MAX_BATCH, allow_empty=False)


class TransferSerializer(serializers.ModelSerializer):
    debit_account = serializers.SlugRelatedField(slug_field="code", read_only=True)
    credit_account = serializers.SlugRelatedField(slug_field="code", read_only=True)
    pending = serializers.SlugRelatedField(slug_field="sequence", read_only=True)
    reverses = serializers.SlugRelatedField(slug_field="sequence", read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "sequence",
            "idempotency_key",
            "kind",
            "debit_account",
            "credit_account",
            "amount_minor",
            "currency",
            "pending",
            "reverses",
            "expires_at",
            "reference",
            "memo",
            "created_at",
            "prev_hash",
            "hash",
        ]


class AccountSerializer(serializers.ModelSerializer):
    available_minor = serializers.IntegerField(read_only=True)

    class Meta:
        model = Account
        fields = [
            "code",
            "name",
            "type",
            "currency",
            "owner_kind",
            "closed",
            "debits_pending",
            "debits_posted",
            "credits_pending",
            "credits_posted",
            "available_minor",
        ]


class LedgerPermission(permissions.BasePermission):
    """Read with the view permission; post transfers with `ledger.add_transfer`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in permissions.SAFE_METHODS:
            return bool(user.has_perm(view.read_permission))
        return bool(user.has_perm("ledger.add_transfer"))


class BySequence(CursorPagination):
    ordering = "-sequence"


class ByCode(CursorPagination):
    ordering = "code"


class TransferListCreate(generics.ListAPIView):
    """GET: transfers, newest first (`?account=<code>`, `?reference=`). POST: one transfer (an
    object) or a batch (`{"transfers": [...]}`, at most 8,000), written all or none."""

    permission_classes = [LedgerPermission]
    read_permission = "ledger.view_transfer"
    serializer_class = TransferSerializer
    pagination_class = BySequence

    def get_queryset(self) -> QuerySet[Transfer]:
        transfers = Transfer.objects.select_related(
            "debit_account", "credit_account", "pending", "reverses"
        )
        params = self.request.query_params
        for name in ("account", "reference"):
            if not services.text_is_storable(params.get(name, "")):
                raise ValidationError({name: [services.ERR_TEXT.format(field=name)]})
        account = params.get("account")
        if account:
            transfers = transfers.filter(
                Q(debit_account__code=account) | Q(credit_account__code=account)
            )
        reference = params.get("reference")
        if reference:
            transfers = transfers.filter(reference=reference)
        return transfers

    @extend_schema(request=TransferBatchSerializer, responses={201: TransferSerializer(many=True)})
    def post(self, request: Request) -> Response:
        batch = isinstance(request.data, dict) and "transfers" in request.data
        incoming = TransferBatchSerializer(data=request.data) if batch else None
        if incoming is not None:
            incoming.is_valid(raise_exception=True)
            items = incoming.validated_data["transfers"]
        else:
            single = TransferInSerializer(data=request.data)
            single.is_valid(raise_exception=True)
            items = [single.validated_data]
        header_key = request.headers.get("Idempotency-Key", "").strip()
        specs = self._specs(items, header_key, batch=batch)
        written = services.transfers_create(actor=request.user, specs=specs)
        out = TransferSerializer(written, many=True).data
        return Response(out if batch else out[0], status=status.HTTP_201_CREATED)

    @staticmethod
    def _specs(
        items: list[dict[str, Any]], header_key: str, *, batch: bool
    ) -> list[services.TransferSpec]:
        codes = {i["debit_account"] for i in items} | {i["credit_account"] for i in items}
        ids = dict(Account.objects.filter(code__in=codes).values_list("code", "pk"))
        missing = sorted(codes - ids.keys())
        if missing:
            raise ValidationError({"accounts": [f"Unknown account code: {missing[0]}"]})
        specs = []
        for index, item in enumerate(items):
            key = item.get("idempotency_key") or (
                f"{header_key}:{index}" if batch and header_key else header_key
            )
            if not key or len(key) > MAX_KEY:
                raise ValidationError(
                    {"idempotency_key": [f"Item {index}: give an idempotency key (at most 128)."]}
                )
            specs.append(
                services.TransferSpec(
                    idempotency_key=key,
                    debit_account_id=ids[item["debit_account"]],
                    credit_account_id=ids[item["credit_account"]],
                    amount_minor=item["amount_minor"],
                    currency=item["currency"],
                    pending=item["pending"],
                    expires_at=item["expires_at"],
                    reference=item["reference"],
                    memo=item["memo"],
                )
            )
        return specs


class AccountList(generics.ListAPIView):
    """Accounts with their pending, posted and available balances."""

    permission_classes = [LedgerPermission]
    read_permission = "ledger.view_account"
    serializer_class = AccountSerializer
    queryset = Account.objects.all()

    pagination_class = ByCode


class AccountDetail(generics.RetrieveAPIView):
    permission_classes = [LedgerPermission]
    read_permission = "ledger.view_account"
    serializer_class = AccountSerializer
    queryset = Account.objects.all()
    lookup_field = "code"

    def get_object(self) -> Account:
        # A code PostgreSQL could not even compare (a NUL) names no account.
        if not services.text_is_storable(self.kwargs.get(self.lookup_field, "")):
            raise Http404
        return super().get_object()
