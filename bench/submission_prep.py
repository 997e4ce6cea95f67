"""Django-side set-up of `bench_submission`, run in its own process with `bench.settings`.

`python -m bench.submission_prep prepare N` creates the bench program, a non-funding service
type and N verified civilians with a signed-in session each, counts the SQL queries of one
submission and of one bare insert (Django's test client, same database and settings), and
prints the result as one JSON line. `python -m bench.submission_prep profile N` runs N
submissions in-process under cProfile and prints where the time goes.

It runs apart from the load generator so that no other benchmark's Django set-up in the
`python -m bench` process can change its settings.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

PROGRAM_CODE = "bench-submit"
SERVICE_CODE = "bench-submit-permit"
DESCRIPTION = "Please repair the broken street light in front of number 12, Elm Street. " * 3


def submission_form(*, service_type_id: int, index: int) -> dict[str, str]:
    """A complete form of the public submission page, with a fresh one-time token."""
    return {
        "service_type": str(service_type_id),
        "description": DESCRIPTION,
        "contact_name": f"Bench Civilian {index}",
        "contact_email": f"bench-civilian-{index}@example.org",
        "contact_phone": "+1 555 0100",
        "amount": "",
        "submission_token": str(uuid.uuid4()),
    }


def _setup() -> None:
    import django

    django.setup()


def _service_type() -> Any:
    from governance.models import Program
    from service_requests.models import ServiceType

    program, _ = Program.objects.get_or_create(
        code=PROGRAM_CODE, defaults={"name": "Bench program", "active": True}
    )
    service_type, _ = ServiceType.objects.get_or_create(
        code=SERVICE_CODE,
        defaults={"name": "Street light repair (bench)", "program": program, "active": True},
    )
    return service_type


def _civilian(index: int) -> Any:
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    email = f"bench-civilian-{index}@example.org"
    user, created = get_user_model().objects.get_or_create(
        username=f"bench-civilian-{index}",
        defaults={"email": email, "first_name": "Bench", "last_name": f"Civilian {index}"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _signed_in_client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _count_queries(client: Any, path: str, data: dict[str, str]) -> tuple[int, int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, data)
    return response.status_code, len(captured), [q["sql"] for q in captured.captured_queries]


def prepare(clients: int) -> dict[str, Any]:
    """Create the bench data and sessions; measure queries per submission and per bare insert."""
    _setup()
    from django.conf import settings

    service_type = _service_type()
    sessions = []
    for index in range(clients):
        client = _signed_in_client(_civilian(index))
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)

    probe = _signed_in_client(_civilian(clients))
    # The first submission of a process pays one-time costs (the year's counter row, caches).
    probe.post("/requests/new/", submission_form(service_type_id=service_type.pk, index=clients))
    status, submit_queries, submit_sql = _count_queries(
        probe, "/requests/new/", submission_form(service_type_id=service_type.pk, index=clients)
    )
    if status != 302:
        raise SystemExit(f"in-process submission answered {status}, expected 302")
    bare_status, bare_queries, bare_sql = _count_queries(
        probe, "/bench/bare-insert/", {"body": DESCRIPTION}
    )
    if bare_status != 201:
        raise SystemExit(f"in-process bare insert answered {bare_status}, expected 201")
    return {
        "service_type_id": service_type.pk,
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "sessions": sessions,
        "submit_queries": submit_queries,
        "submit_sql": submit_sql,
        "bare_queries": bare_queries,
        "bare_sql": bare_sql,
    }


def profile(count: int) -> str:
    """Run `count` submissions in-process under cProfile; return the top of the profile."""
    _setup()
    service_type = _service_type()
    client = _signed_in_client(_civilian(9999))
    client.post("/requests/new/", submission_form(service_type_id=service_type.pk, index=9999))
    profiler = cProfile.Profile(time.process_time)  # CPU time: waits on the servers are not counted
    profiler.enable()
    for _ in range(count):
        response = client.post(
            "/requests/new/", submission_form(service_type_id=service_type.pk, index=9999)
        )
        if response.status_code != 302:
            raise SystemExit(f"submission answered {response.status_code}, expected 302")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(90)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


def cpu(count: int) -> dict[str, float]:
    """CPU milliseconds of this process per submission and per bare insert, `count` of each,
    in-process (the database server's own time is not counted)."""
    _setup()
    service_type = _service_type()
    client = _signed_in_client(_civilian(9999))
    client.post("/requests/new/", submission_form(service_type_id=service_type.pk, index=9999))
    client.post("/bench/bare-insert/", {"body": DESCRIPTION})
    forms = [submission_form(service_type_id=service_type.pk, index=9999) for _ in range(count)]
    started = time.process_time()
    statuses = [client.post("/requests/new/", form).status_code for form in forms]
    submit = (time.process_time() - started) * 1000 / count
    started = time.process_time()
    bare_statuses = [
        client.post("/bench/bare-insert/", {"body": DESCRIPTION}).status_code for _ in range(count)
    ]
    bare = (time.process_time() - started) * 1000 / count
    if set(statuses) != {302} or set(bare_statuses) != {201}:
        raise SystemExit(
            f"submissions answered {sorted(set(statuses))} (expected 302), bare inserts "
            f"{sorted(set(bare_statuses))} (expected 201): nothing measured"
        )
    return {"submit_cpu_ms": round(submit, 2), "bare_cpu_ms": round(bare, 2)}


def main(argv: list[str]) -> int:
    """`prepare N` prints one JSON line; `profile N` prints a cProfile report; `cpu N` prints
    the CPU time per submission and per bare insert as one JSON line."""
    command, count = argv[0], int(argv[1])
    if command == "prepare":
        print(json.dumps(prepare(count)))
    elif command == "profile":
        print(profile(count))
    elif command == "cpu":
        print(json.dumps(cpu(count)))
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
