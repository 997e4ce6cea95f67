"""The request's object-permission checker (`core.permissions.request_permissions`)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from guardian.shortcuts import assign_perm

from core.permissions import request_permissions
from governance.models import Program

pytestmark = pytest.mark.django_db


def test_one_checker_per_request_answers_from_its_prefetch(
    supervisor, outsider_supervisor, django_assert_num_queries
):
    program = Program.objects.create(code="p-check", name="Checked program")
    other = Program.objects.create(code="p-other", name="Other program")
    assign_perm("governance.decide_program", supervisor, program)
    request = RequestFactory().get("/")
    request.user = supervisor
    checker = request_permissions(request)
    assert request_permissions(request) is checker
    checker.prefetch_perms([program, other])
    with django_assert_num_queries(0):
        assert checker.has_perm("governance.decide_program", program)
        assert not checker.has_perm("governance.decide_program", other)
        assert request_permissions(request).has_perm("decide_program", program)
    request.user = outsider_supervisor  # another user: a checker of their own
    assert not request_permissions(request).has_perm("governance.decide_program", program)
    supervisor.is_active = False
    inactive = RequestFactory().get("/")
    inactive.user = supervisor
    assert not request_permissions(inactive).has_perm("governance.decide_program", program)
