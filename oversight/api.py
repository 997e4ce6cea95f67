"""`/api/v1/outcomes/`: the bureau's figures (`oversight.figures`), the same object as
`manage.py outcomes_report --json`. OAuth clients need the scope `outcomes:read`; people (and
the user a client acts for) need the `view_outcomes` permission (supervisors, finance
officers, auditors, administrators), and see the programs they may see. Query parameters
`since`, `until` (YYYY-MM-DD) and `program` (a code), checked: a bad one answers 400 naming it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import HasScope, RejectNulMixin

from . import selectors
from .figures import outcomes
from .query import QueryError, parse_query

SCOPES = ["outcomes:read"]


class MayViewOutcomes(permissions.BasePermission):
    message = "You may not see the bureau's outcome figures."

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.may_view_outcomes(request.user)


def _spread(name: str) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "p50": serializers.FloatField(allow_null=True),
            "p90": serializers.FloatField(allow_null=True),
        },
    )


OUTCOMES_SCHEMA = inline_serializer(
    "Outcomes",
    {
        "received": serializers.IntegerField(),
        "closed": serializers.IntegerField(),
        "backlog_open": serializers.IntegerField(),
        "first_response_hours": _spread("FirstResponseHours"),
        "decision_hours": _spread("DecisionHours"),
        "resolution_days": _spread("ResolutionDays"),
        "within_target_ratio": serializers.FloatField(allow_null=True),
        "csat": inline_serializer(
            "Csat",
            {
                "responses": serializers.IntegerField(),
                "mean": serializers.FloatField(allow_null=True),
                "response_rate": serializers.FloatField(allow_null=True),
            },
        ),
        "funds": inline_serializer(
            "FundFigures",
            {
                "code": serializers.CharField(),
                "budget_minor": serializers.IntegerField(),
                "obligated_minor": serializers.IntegerField(),
                "spent_minor": serializers.IntegerField(),
                "available_minor": serializers.IntegerField(),
            },
            many=True,
        ),
        "workload": inline_serializer(
            "Workload",
            {
                "open_by_reviewer": serializers.DictField(child=serializers.IntegerField()),
                "jain": serializers.FloatField(allow_null=True),
                "gini": serializers.FloatField(allow_null=True),
            },
        ),
    },
)


class Outcomes(RejectNulMixin, APIView):
    """The figures for a period and the programs the caller may see."""

    required_scopes = SCOPES
    permission_classes = [permissions.IsAuthenticated, HasScope, MayViewOutcomes]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="First day (YYYY-MM-DD)"),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Last day (YYYY-MM-DD)"),
            OpenApiParameter("program", OpenApiTypes.STR, description="A program's code"),
        ],
        responses={200: OUTCOMES_SCHEMA},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            query = parse_query(
                since=params.get("since"),
                until=params.get("until"),
                program=params.get("program"),
                visible_program_ids=selectors.program_ids_visible_to(request.user),
            )
        except QueryError as error:
            raise ValidationError({k: [v] for k, v in error.errors.items()}) from error
        figures = outcomes(since=query.since, until=query.until, program_ids=query.program_ids)
        return Response(figures.as_json())
