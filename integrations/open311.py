"""Open311 GeoReport v2 (`/open311/v2/`), in JSON and XML (`.json` / `.xml`; JSON without).

- `discovery`, `services`, `services/{service_code}`: the open service types; a funding service
  has one attribute, `amount` (in cents), its only extra question.
- `requests` GET: public, no personal data (no contact details, no description); filters
  `service_request_id` (comma-separated tracking numbers), `service_code`, `start_date`,
  `end_date`, `status` (open|closed); by default the last 90 days, at most 1000, newest first.
- `requests` POST: with the `api_key` an administrator issued to an API client (admin action
  "Issue a new Open311 api_key"); the request is filed through the same service as the web
  form, by the user the client acts for, so staff see it in the admin like any other. With an
  `Idempotency-Key` header a retry of the same request answers as the first did; the same key
  with a different request answers 409.
- `requests/{service_request_id}`, `tokens/{token}`.

Errors use the standard's shape: `[{"code": 400, "description": "…"}]`, or
`<errors><error><code>400</code><description>…</description></error></errors>`.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.api import parse_rate
from service_requests import selectors, services
from service_requests.models import CLOSED_STATUSES, ServiceRequest, ServiceType

from .models import ApiClient
from .services.clients import open311_key_digest

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-01-01T00:00:00+00:00"
DEFAULT_WINDOW = timedelta(days=90)
MAX_UTC_OFFSET = timedelta(hours=14)
MAX_RESULTS = 1000
WRITE_SCOPE = "requests:write"
AMOUNT = "amount"
TRACKING = re.compile(r"^HMS-[0-9]{4}-[0-9]{6,}$")
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# --- Rendering ------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, list):
        singular = {"formats": "format", "values": "value", "keywords": "keyword"}.get(name)
        for item in value:
            if isinstance(item, dict):
                _xml_object(node, singular or "item", item)
            else:
                ET.SubElement(node, singular or "item").text = str(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(node, key, inner)
    elif value is None:
        pass
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = str(value)


def _xml_object(parent: ET.Element, name: str, values: dict[str, Any]) -> None:
    node = ET.SubElement(parent, name)
    for key, value in values.items():
        if isinstance(value, list) and key in ("endpoints", "attributes"):
            container = ET.SubElement(node, key)
            for item in value:
                _xml_object(container, key[:-1], item)
        else:
            _xml_value(node, key, value)


def render(data: Any, fmt: str, *, root: str, item: str, status: int = 200) -> HttpResponse:
    """`data` (a list of objects, or one object) as JSON or as the standard's XML."""
    if fmt == "json":
        return JsonResponse(data, status=status, safe=False)
    top = ET.Element(root)
    for element in data if isinstance(data, list) else [data]:
        if root == item:  # one object at the top (discovery, service_definition)
            for key, value in element.items():
                if isinstance(value, list) and key in ("endpoints", "attributes"):
                    container = ET.SubElement(top, key)
                    for entry in value:
                        _xml_object(container, key[:-1], entry)
                else:
                    _xml_value(top, key, value)
        else:
            _xml_object(top, item, element)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES["xml"])


def render_error(error: Open311Error, fmt: str) -> HttpResponse:
    return render(
        [{"code": error.status, "description": error.description}],
        fmt,
        root="errors",
        item="error",
        status=error.status,
    )


def _format(fmt: str | None) -> str:
    return (fmt or ".json").lstrip(".").lower()


def open311_view(methods: list[str]) -> Any:
    """Wrap a view: pick the format, answer errors in the standard's shape."""

    def decorate(view: Any) -> Any:
        @csrf_exempt
        @require_http_methods(methods)
        def wrapped(request: HttpRequest, *args: Any, fmt: str | None = None, **kwargs: Any) -> Any:
            chosen = _format(fmt)
            if chosen not in CONTENT_TYPES:
                return render_error(Open311Error(400, "Use the .json or .xml format."), "json")
            for value in [*request.GET.values(), *request.POST.values(), *kwargs.values()]:
                if "\x00" in value:
                    return render_error(
                        Open311Error(400, "Null characters are not allowed."), chosen
                    )
            try:
                return view(request, chosen, *args, **kwargs)
            except Open311Error as error:
                return render_error(error, chosen)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorate


def w3c(value: datetime | None) -> str | None:
    """A W3C date-time with the bureau's offset: 2026-01-02T09:30:00-05:00."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- Services -------------------------------------------------------------------------------


def _service(service_type: ServiceType) -> dict[str, Any]:
    return {
        "service_code": service_type.code,
        "service_name": service_type.name,
        "description": service_type.description,
        "metadata": service_type.is_funding,
        "type": "batch",
        "keywords": "",
        "group": service_type.program.name,
    }


def _attributes(service_type: ServiceType) -> list[dict[str, Any]]:
    """The service's extra questions as Open311 attributes (a funding service's amount)."""
    if not service_type.is_funding:
        return []
    maximum = service_type.max_amount_minor
    limit = f" (at most {maximum})" if maximum else ""
    return [
        {
            "variable": True,
            "code": AMOUNT,
            "datatype": "number",
            "required": True,
            "datatype_description": f"Whole {service_type.currency} cents{limit}",
            "order": 1,
            "description": "The amount asked for, in cents.",
            "values": [],
        }
    ]


@open311_view(["GET", "HEAD"])
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2/")
    document = {
        "changeset": CHANGESET,
        "contact": f"{settings.HMS_BUREAU_NAME}, {settings.SITE_URL}",
        "key_service": f"{settings.SITE_URL}/admin/ (ask the bureau for an api_key)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(document, fmt, root="discovery", item="discovery")


@open311_view(["GET", "HEAD"])
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    found = selectors.service_types_open().order_by("code")
    return render([_service(t) for t in found], fmt, root="services", item="service")


@open311_view(["GET", "HEAD"])
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    service_type = selectors.service_types_open().filter(code=code).first()
    if service_type is None:
        raise Open311Error(404, f"No open service has the code {code!r}.")
    document = {"service_code": service_type.code, "attributes": _attributes(service_type)}
    return render(document, fmt, root="service_definition", item="service_definition")


# --- Requests -------------------------------------------------------------------------------


def _request(found: ServiceRequest) -> dict[str, Any]:
    """A request as the public sees it: no contact details, no description, no location."""
    target = found.service_type.target_days
    return {
        "service_request_id": found.tracking_number,
        "status": "closed" if found.status in CLOSED_STATUSES else "open",
        "status_notes": found.get_status_display(),
        "service_name": found.service_type.name,
        "service_code": found.service_type.code,
        "description": None,
        "agency_responsible": settings.HMS_BUREAU_NAME,
        "service_notice": None,
        "requested_datetime": w3c(found.submitted_at),
        "updated_datetime": w3c(found.updated_at),
        "expected_datetime": w3c(found.submitted_at + timedelta(days=target)),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _date(request: HttpRequest, name: str) -> datetime | None:
    """The date-time filter `name`, with a time zone no clock is further from UTC than
    (±14:00): Python refuses offsets of a day or more, and PostgreSQL those past ±15:59."""
    raw = request.GET.get(name)
    if not raw:
        return None
    refusal = Open311Error(400, f"{name} must be a W3C date-time with a time zone.")
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well formed, but no such date or offset (+99:00)
        raise refusal from None
    if value is None or timezone.is_naive(value):
        raise refusal
    offset = value.utcoffset()
    if offset is None or abs(offset) > MAX_UTC_OFFSET:
        raise refusal
    return value


def _listed(request: HttpRequest) -> QuerySet[ServiceRequest]:
    found = ServiceRequest.objects.select_related("service_type").order_by("-submitted_at", "-id")
    ids = [i.strip() for i in request.GET.get("service_request_id", "").split(",") if i.strip()]
    if ids:
        # The standard: with ids given, the other filters are ignored.
        return found.filter(tracking_number__in=ids[:MAX_RESULTS])
    codes = [c.strip() for c in request.GET.get("service_code", "").split(",") if c.strip()]
    if codes:
        found = found.filter(service_type__code__in=codes)
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if start is None and end is None:
        start = timezone.now() - DEFAULT_WINDOW
    if start is not None:
        found = found.filter(submitted_at__gte=start)
    if end is not None:
        found = found.filter(submitted_at__lte=end)
    wanted = request.GET.get("status", "").strip().lower()
    if wanted:
        statuses = {s.strip() for s in wanted.split(",")}
        if not statuses <= {"open", "closed"}:
            raise Open311Error(400, "status is open or closed.")
        if statuses == {"open"}:
            found = found.exclude(status__in=CLOSED_STATUSES)
        elif statuses == {"closed"}:
            found = found.filter(status__in=CLOSED_STATUSES)
    return found


@open311_view(["GET", "HEAD", "POST"])
def request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    found = list(_listed(request)[:MAX_RESULTS])
    return render([_request(r) for r in found], fmt, root="service_requests", item="request")


@open311_view(["GET", "HEAD"])
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    found = (
        ServiceRequest.objects.select_related("service_type")
        .filter(tracking_number=service_request_id)
        .first()
    )
    if found is None:
        raise Open311Error(404, f"No request has the id {service_request_id!r}.")
    return render([_request(found)], fmt, root="service_requests", item="request")


@open311_view(["GET", "HEAD"])
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    try:
        parsed = uuid.UUID(token)
    except ValueError:
        raise Open311Error(404, "No request has this token.") from None
    number = (
        ServiceRequest.objects.filter(submission_token=parsed)
        .values_list("tracking_number", flat=True)
        .first()
    )
    if number is None:
        raise Open311Error(404, "No request has this token.")
    return render(
        [{"service_request_id": number, "token": token}],
        fmt,
        root="service_requests",
        item="request",
    )


def _client(request: HttpRequest) -> ApiClient:
    key = request.POST.get("api_key", "").strip()
    client = (
        ApiClient.objects.select_related("application__user")
        .filter(open311_key_sha256=open311_key_digest(key), active=True)
        .first()
        if key
        else None
    )
    user = client.application.user if client is not None else None
    if client is None or user is None or not user.is_active:
        raise Open311Error(403, "Give a valid api_key.")
    if WRITE_SCOPE not in client.scope_list:
        raise Open311Error(403, "This api_key may not file requests.")
    return client


def _within_rate(client: ApiClient) -> None:
    from django.core.cache import cache

    framework: dict[str, Any] = getattr(settings, "REST_FRAMEWORK", {})
    rates: dict[str, str] = framework.get("DEFAULT_THROTTLE_RATES", {})
    allowed, period = parse_rate(client.rate or rates.get("client", "600/min"))
    window = int(timezone.now().timestamp() // period)
    key = f"api-throttle:client:{client.application_id}:{period}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        count = 1
    if count > allowed:
        raise Open311Error(429, "Too many requests: try again later.")


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    client = _client(request)
    _within_rate(client)
    data = request.POST
    service_type = selectors.service_types_open().filter(code=data.get("service_code", "")).first()
    if service_type is None:
        raise Open311Error(404, "Give the service_code of an open service.")
    email = data.get("email", "").strip()
    if not email:
        raise Open311Error(400, "email is required: the civilian is told of progress by email.")
    description = data.get("description", "").strip()
    address = data.get("address_string", "").strip()
    if address:
        description = f"{description}\n\nAddress: {address}".strip()
    if not description:
        raise Open311Error(400, "description is required.")
    amount: int | None = None
    if service_type.is_funding:
        raw = data.get(f"attribute[{AMOUNT}]", "").strip()
        if not raw.isdigit():
            raise Open311Error(400, f"attribute[{AMOUNT}] is required: whole cents.")
        amount = int(raw)
    name = " ".join(p for p in (data.get("first_name", ""), data.get("last_name", "")) if p)
    key = request.headers.get("Idempotency-Key", "").strip()
    user = client.application.user
    token = uuid.uuid5(uuid.NAMESPACE_URL, f"open311:{user.pk}:{key}") if key else uuid.uuid4()
    request.hms_api_client = client.application  # type: ignore[attr-defined]
    submission: dict[str, Any] = {
        "service_type": service_type,
        "description": description[:5000],
        "contact_name": (name.strip() or email)[:120],
        "contact_email": email,
        "contact_phone": data.get("phone", "").strip()[:32],
        "amount_minor": amount,
    }
    try:
        created, is_new = services.request_submit(actor=user, submission_token=token, **submission)
    except ValidationError as error:  # the service's rules, or a field the model refuses
        raise Open311Error(400, "; ".join(error.messages)) from None
    if not is_new:
        try:
            services.request_validate_resubmission(created, submission)
        except services.RequestError as error:  # the same rule as the REST API's
            raise Open311Error(409, "; ".join(error.messages)) from None
    return render(
        [
            {
                "service_request_id": created.tracking_number,
                "token": str(created.submission_token),
                "service_notice": "",
                "account_id": None,
            }
        ],
        fmt,
        root="service_requests",
        item="request",
        status=201,
    )
