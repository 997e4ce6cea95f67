"""Django-side set-up of `bench_load`, run in its own process with `bench.settings`.

`python -m bench.load_prep prepare N` seeds the bench world with `BENCH_LOAD_ROWS` requests,
makes N verified civilians with a signed-in session each, a signed-in reviewer session, an
OAuth client's bearer token (scope `requests:read`) and one request to look up by tracking
number, and prints them as one JSON line. `python -m bench.load_prep count CODE` prints how
many requests the service type CODE holds.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

SECRET = "bench-load-client-secret-0123456789abcdef"
CLIENT_NAME = "bench-load"


def _signed_in(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    from tests.builders import mark_signed_in_with_mfa

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if user.is_staff:
        mark_signed_in_with_mfa(client, user)  # staff pages need the second factor
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def _token(user: Any) -> str:
    from django.test import Client
    from oauth2_provider.models import get_application_model

    from integrations.models import ApiClient

    applications = get_application_model()
    application = applications.objects.filter(name=CLIENT_NAME).first()
    if application is None:
        application = applications.objects.create(
            name=CLIENT_NAME,
            user=user,
            client_type=applications.CLIENT_CONFIDENTIAL,
            authorization_grant_type=applications.GRANT_CLIENT_CREDENTIALS,
            client_secret=SECRET,
        )
        ApiClient.objects.create(
            application=application, scopes="requests:read", rate="1000000/min"
        )
    basic = base64.b64encode(f"{application.client_id}:{SECRET}".encode()).decode()
    answer = Client().post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    if answer.status_code != 200:
        raise SystemExit(f"token: {answer.status_code} {answer.content[:300]!r}")
    return str(answer.json()["access_token"])


def prepare(clients: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings

    from bench import seed
    from bench.submission_prep import _civilian
    from service_requests import services
    from service_requests.models import ServiceRequest

    world = seed.world()
    seed.world_requests(world, rows=int(os.environ.get("BENCH_LOAD_ROWS", "2000")))
    civilians = [_civilian(1000 + index) for index in range(clients)]
    mine = ServiceRequest.objects.filter(requester=civilians[0]).order_by("pk").first()
    if mine is None:
        mine, _ = services.request_submit(
            actor=civilians[0],
            service_type=world["inspection"],
            description="The back steps of number 12, Elm Street, are broken.",
            contact_name="Bench Civilian",
            contact_email=civilians[0].email,
        )
    return {
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "sessions": [_signed_in(user) for user in civilians],
        "staff_session": _signed_in(world["reviewer"]),
        "token": _token(world["superuser"]),
        "service_type_id": world["inspection"].pk,
        "service_code": world["inspection"].code,
        "tracking_number": mine.tracking_number,
        "email": civilians[0].email,
    }


def count(code: str) -> int:
    import django

    django.setup()
    from service_requests.models import ServiceRequest

    return ServiceRequest.objects.filter(service_type__code=code).count()


def main(argv: list[str]) -> int:
    if argv[0] == "prepare":
        print(json.dumps(prepare(int(argv[1]))))
    elif argv[0] == "count":
        print(count(argv[1]))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
