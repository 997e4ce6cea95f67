"""The civilian's pages: file a request, list one's own requests, follow one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import conf, ratelimit, selectors, services, tracking, views_filing
from .filing_limits import FilingRefusal, filing_refusal
from .forms import (
    AttachmentsForm,
    CatalogueSearchForm,
    InfoForm,
    RequestForm,
    SatisfactionForm,
    TrackForm,
    WithdrawForm,
)
from .models import (
    CLOSED_STATUSES,
    RATABLE_STATUSES,
    WITHDRAWABLE_STATUSES,
    ServiceRequest,
    Status,
)
from .presentation import answers_for_display, status_story


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"service_types": selectors.service_types_open()})


def _catalogue(request: HttpRequest) -> HttpResponse:
    """The service catalogue: a card per open service, narrowed by a search that is a plain GET
    form (it works without JavaScript)."""
    search = CatalogueSearchForm(request.GET)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    found = list(selectors.service_types_search(query=query))
    return render(
        request,
        "service_requests/catalogue.html",
        {"search": search, "query": query, "service_types": found},
        status=200 if search.is_valid() else 400,
    )


@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    """`/requests/new/`: the catalogue for anyone; with `?service=<code>`, the first step of
    the filing form (`views_filing`), for anyone. A post with every field at once files in one
    go, for signed-in civilians."""
    if request.method == "GET" and "service" not in request.GET:
        return _catalogue(request)
    if request.method == "GET":
        return views_filing.step_details(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    service_types = selectors.service_types_open()
    form = RequestForm(request.POST, request.FILES, service_types=service_types)
    refusal: FilingRefusal | None = None
    if form.is_valid():
        refusal = filing_refusal(
            user=request.user,
            address=ratelimit.client_address(request),
            submission_token=form.cleaned_data["submission_token"],
        )
        if refusal is not None:
            form.add_error(None, refusal.message)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created, is_new = services.request_submit(
                actor=request.user,  # type: ignore[arg-type]
                submission_token=data["submission_token"],
                language=getattr(request, "LANGUAGE_CODE", "en"),
                **views_filing.submit_fields(form, form),
            )
        except services.RequestError as error:
            form.add_error(None, error.messages[0])
        else:
            if not is_new:
                messages.info(request, _("This request was already submitted."))
            elif data["attachments"]:
                _attach(request, created, [c.upload for c in data["attachments"]])
            return redirect("service_requests:confirmation", created.tracking_number)
    response = render(
        request,
        "service_requests/new.html",
        {"form": form, "funding_codes": [t.pk for t in service_types if t.is_funding]},
        status=400 if refusal is None else 429,
    )
    if refusal is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _attach(request: HttpRequest, found: ServiceRequest, files: list[Any]) -> bool:
    """Add the files to the request; a refusal is told as a message (nothing is stored)."""
    try:
        services.attachments_add(
            actor=request.user,  # type: ignore[arg-type]
            request_id=found.pk,
            files=files,
        )
    except services.RequestError as error:
        messages.error(request, error.messages[0])
        return False
    return True


def _own(request: HttpRequest, tracking_number: str):  # type: ignore[no-untyped-def]
    found = selectors.request_of_civilian(user=request.user, tracking_number=tracking_number)
    if found is None:
        raise Http404(_("No request of yours has that tracking number."))
    return found


@never_cache
def request_confirmation(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """The tracking number and what happens next: for the civilian who filed it, or for the
    browser that filed it without an account (it followed the emailed link)."""
    if tracking.tracked(request, tracking_number):
        found = selectors.request_by_tracking_number(tracking_number=tracking_number)
        if found is None:
            raise Http404(_("No request of yours has that tracking number."))
    elif request.user.is_authenticated:
        found = _own(request, tracking_number)
    else:
        return redirect_to_login(request.get_full_path())
    return render(request, "service_requests/confirmation.html", {"req": found})


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "service_requests/list.html",
        {
            "requests": selectors.requests_of_civilian(user=request.user)[:200],
            "claimable": list(selectors.requests_claimable(user=request.user)[:50]),
        },
    )


# How long a rendered part of a request page is kept (cache alias `pages`, per process). Its
# key holds everything the part shows that can change: see `_page_version`.
PAGE_FRAGMENT_SECONDS = 600


def _page_version(found: ServiceRequest, *, owner: bool, rated: Any, fresh_forms: bool) -> str:
    """The key of the request page's cached parts: the request as last saved (every change of
    status or field saves it, bulk paths included), what the page shows of its service, its
    public events and documents (their versions from `selectors.request_for_page`), the
    rating, whether the viewer is its civilian, the day (the target date turns overdue) and the
    time zone. A page showing a refused form's errors is rendered with a timeout of 0 (never
    stored), so any key serves it."""
    if not fresh_forms:
        return "refused"
    service = found.service_type
    parts = [
        found.pk,
        found.status,
        found.updated_at.timestamp(),
        service.name,
        service.name_es,
        service.target_days,
        int(owner),
        found.public_events_version,  # type: ignore[attr-defined]
        found.documents_version,  # type: ignore[attr-defined]
        rated.pk if rated is not None else 0,
        timezone.localdate().isoformat(),
        timezone.get_current_timezone_name(),
    ]
    return ":".join(str(part) for part in parts)


def _documents_count(found: ServiceRequest) -> int | None:
    """How many documents the request has, from its version (None: not read with it)."""
    version = getattr(found, "documents_version", None)
    return None if version is None else int(version.split(":", 1)[0])


def _has_documents(found: ServiceRequest) -> bool:
    count = _documents_count(found)
    return found.attachments.exists() if count is None else count > 0


def _documents(found: ServiceRequest) -> list[Any]:
    return [] if _documents_count(found) == 0 else list(found.attachments.all())


def _detail_context(request: HttpRequest, found: ServiceRequest, **forms: Any) -> dict[str, Any]:
    """What the request page shows. Worked out only when a part showing it is rendered, not
    when the part comes from the cache: the status story, the answers, the timeline and the
    documents."""
    owner = request.user.is_authenticated and found.requester_id == request.user.pk
    rated = getattr(found, "satisfaction", None) if found.status in RATABLE_STATUSES else None
    fresh_forms = not any(form is not None for form in forms.values())
    context: dict[str, Any] = {
        "req": found,
        "owner": owner,
        "story": SimpleLazyObject(lambda: status_story(found)),
        "answers": SimpleLazyObject(lambda: answers_for_display(found)),
        "timeline": SimpleLazyObject(lambda: selectors.public_timeline(request=found)),
        "page_version": _page_version(found, owner=owner, rated=rated, fresh_forms=fresh_forms),
        "fragment_seconds": PAGE_FRAGMENT_SECONDS if fresh_forms else 0,
        "info_form": None,
        "withdraw_form": None,
        "satisfaction_form": None,
        "satisfaction": rated,
        "attachments": SimpleLazyObject(lambda: _documents(found)),
        "has_documents": SimpleLazyObject(lambda: _has_documents(found)),
        "attachments_form": None,
    }
    if owner:
        if found.status == Status.INFO_REQUESTED:
            context["info_form"] = InfoForm()
        if found.status in WITHDRAWABLE_STATUSES:
            context["withdraw_form"] = WithdrawForm()
        if found.status in RATABLE_STATUSES and rated is None:
            context["satisfaction_form"] = SatisfactionForm()
        if found.status not in CLOSED_STATUSES:
            context["attachments_form"] = AttachmentsForm()
    context |= {name: form for name, form in forms.items() if form is not None}
    return context


@never_cache
def request_detail(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """A request's page: for its civilian (signed in) with the actions, or read-only for a
    browser that proved the tracking number and email at /track/."""
    if not request.user.is_authenticated and not tracking.tracked(request, tracking_number):
        return redirect_to_login(request.get_full_path())
    found = selectors.request_for_page(
        user=request.user,
        tracking_number=tracking_number,
        tracked=lambda: (
            not request.user.is_authenticated or tracking.tracked(request, tracking_number)
        ),
    )
    if found is None:
        raise Http404(_("No request of yours has that tracking number."))
    return render(request, "service_requests/detail.html", _detail_context(request, found))


def _refused(request: HttpRequest, found: ServiceRequest, **forms: Any) -> HttpResponse:
    return render(
        request,
        "service_requests/detail.html",
        _detail_context(request, found, **forms),
        status=400,
    )


@login_required
@require_POST
def request_respond(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    form = InfoForm(request.POST)
    if form.is_valid():
        try:
            services.request_provide_info(
                actor=request.user,  # type: ignore[arg-type]
                request_id=found.pk,
                message=form.cleaned_data["message"],
            )
        except services.RequestError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, _("Thank you: your answer was sent to the reviewer."))
            return redirect("service_requests:detail", found.tracking_number)
    return _refused(request, found, info_form=form)


@login_required
@require_POST
def request_withdraw(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.request_withdraw(
                actor=request.user,  # type: ignore[arg-type]
                request_id=found.pk,
                reason=form.cleaned_data["reason"],
            )
        except services.RequestError as error:
            messages.error(request, error.messages[0])
            return redirect("service_requests:detail", found.tracking_number)
        messages.success(request, _("Your request was withdrawn. We sent you an email to confirm."))
        return redirect("service_requests:detail", found.tracking_number)
    return _refused(request, found, withdraw_form=form)


@login_required
@require_POST
def request_rate(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    form = SatisfactionForm(request.POST)
    if form.is_valid():
        try:
            services.request_rate(
                actor=request.user,  # type: ignore[arg-type]
                request_id=found.pk,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                language=getattr(request, "LANGUAGE_CODE", "en"),
            )
        except services.RequestError as error:
            messages.error(request, error.messages[0])
            return redirect("service_requests:detail", found.tracking_number)
        messages.success(request, _("Thank you for telling us how we did."))
        return redirect("service_requests:detail", found.tracking_number)
    return _refused(request, found, satisfaction_form=form)


@login_required
@require_POST
def request_attach(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    form = AttachmentsForm(request.POST, request.FILES, already=found.attachments.count())
    if form.is_valid():
        files = [c.upload for c in form.cleaned_data["attachments"]]
        if _attach(request, found, files):
            messages.success(request, _("Thank you: your documents were added."))
        return redirect("service_requests:detail", found.tracking_number)
    return _refused(request, found, attachments_form=form)


@never_cache
@login_required
def attachment_download(request: HttpRequest, tracking_number: str, pk: int) -> HttpResponseBase:
    """A document, to the civilian who filed the request or to staff who may see it; anyone
    else gets 404. Always a download, never rendered by the browser."""
    found = selectors.request_of_civilian(user=request.user, tracking_number=tracking_number)
    if found is None:
        found = (
            selectors.requests_for_staff(user=request.user)
            .filter(tracking_number=tracking_number)
            .first()
        )
    attachment = found.attachments.filter(pk=pk).first() if found is not None else None
    if attachment is None:
        raise Http404(_("No request of yours has that tracking number."))
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """`/track/`: follow a request without an account, by its tracking number and the email it
    was filed with. Rate limited per client and per tracking number; a wrong email and an
    unknown number get the same answer."""
    if request.method != "POST":
        return render(request, "service_requests/track.html", {"form": TrackForm()})
    form = TrackForm(request.POST)
    window = int(conf.get("TRACK_WINDOW_SECONDS"))
    allowed = ratelimit.hit(
        "track-client",
        ratelimit.client_address(request),
        limit=int(conf.get("TRACK_LIMIT_PER_CLIENT")),
        window=window,
    )
    if allowed and form.is_valid():
        allowed = ratelimit.hit(
            "track-number",
            form.cleaned_data["tracking_number"],
            limit=int(conf.get("TRACK_LIMIT_PER_NUMBER")),
            window=window,
        )
    if not allowed:
        minutes = max(1, round(ratelimit.retry_after(window) / 60))
        response = render(
            request,
            "service_requests/track.html",
            {"form": form, "limited": True, "minutes": minutes},
            status=429,
        )
        response["Retry-After"] = str(ratelimit.retry_after(window))
        return response
    if form.is_valid():
        found = selectors.request_for_tracking(
            tracking_number=form.cleaned_data["tracking_number"],
            email=form.cleaned_data["email"],
        )
        if found is not None:
            response = redirect("service_requests:detail", found.tracking_number)
            tracking.grant_tracking(request, found.tracking_number, response)
            return response
        form.add_error(
            None,
            _(
                "We could not find a request with that tracking number and email address. Check "
                "both against the email we sent you when you filed it."
            ),
        )
    return render(request, "service_requests/track.html", {"form": form}, status=400)
