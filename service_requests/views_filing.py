"""Filing a request in steps (details, documents, contact, review), with or without an account.

Every step is a plain form posted to its own URL: it works without JavaScript. A valid step is
kept in a server-side draft (`RequestDraft`, its id in the session), documents included, so
going back and forth or a refused step loses nothing. The review page shows everything, warns
of possible duplicates, and files once (the draft's one-time submission token). Without an
account the review page emails a one-time link instead; following it files the request.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import conf, ratelimit, selectors, services, tracking
from .errors import ERR_NOT_CLAIMABLE, RequestError
from .filing_limits import FilingRefusal, filing_refusal
from .forms import ConfirmForm, ContactForm, DetailsForm, DocumentsForm, VerifyEmailForm
from .models import RequestDraft, ServiceRequest, ServiceType
from .presentation import answers_for_display

if TYPE_CHECKING:
    from django.contrib.auth.models import User

DRAFT_SESSION_KEY = "hms_request_draft"
ERR_NO_DRAFT = gettext_lazy("Your answers have expired. Start again from the list of services.")
STEPS = [
    ("details", gettext_lazy("Your request")),
    ("documents", gettext_lazy("Documents")),
    ("contact", gettext_lazy("How we reach you")),
    ("review", gettext_lazy("Review and submit")),
]


def submit_fields(details: DetailsForm, contact: ContactForm) -> dict[str, Any]:
    """The arguments of `services.request_submit` from the checked step forms."""
    data = details.cleaned_data
    return {
        "service_type": data["service_type"],
        "description": data["description"],
        "amount_minor": data["amount"],
        "contact_name": contact.cleaned_data["contact_name"],
        "contact_email": contact.cleaned_data["contact_email"],
        "contact_phone": contact.cleaned_data["contact_phone"],
        "answers": services.request_answers(
            service_type=data["service_type"], values=details.answer_values()
        ),
    }


def _raw(form: forms.Form) -> dict[str, Any]:
    """What was posted for the form's fields (files aside), to keep in the draft."""
    return {
        name: form[name].data
        for name, field in form.fields.items()
        if not isinstance(field, forms.FileField)
    }


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "en")


def _draft(request: HttpRequest) -> RequestDraft | None:
    return selectors.draft_of(draft_id=request.session.get(DRAFT_SESSION_KEY), user=request.user)


def _actor(request: HttpRequest) -> User | None:
    """Who acts on a draft: the signed-in user, or None for a visitor without an account."""
    return request.user if request.user.is_authenticated else None  # type: ignore[return-value]


def _steps(current: str) -> list[dict[str, Any]]:
    names = [name for name, _label in STEPS]
    position = names.index(current)
    return [
        {
            "name": name,
            "label": label,
            "state": "complete" if i < position else "current" if i == position else "",
        }
        for i, (name, label) in enumerate(STEPS)
    ]


def _render(
    request: HttpRequest, step: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    names = [name for name, _label in STEPS]
    context |= {
        "step": step,
        "steps": _steps(step),
        "step_number": names.index(step) + 1,
        "step_count": len(STEPS),
        "step_label": dict(STEPS)[step],
    }
    return render(request, f"service_requests/step_{step}.html", context, status=status)


def _lost(request: HttpRequest) -> HttpResponse:
    messages.info(request, ERR_NO_DRAFT)
    return redirect("service_requests:new")


def _details_form(request: HttpRequest, draft: RequestDraft | None) -> DetailsForm:
    service_types = selectors.service_types_open()
    if request.method == "POST":
        return DetailsForm(request.POST, service_types=service_types)
    initial: dict[str, Any] = dict(draft.data) if draft else {}
    chosen = request.GET.get("service") or ""
    found: ServiceType | None = None
    if chosen:
        found = service_types.filter(code=chosen[:40]).first()
    elif str(initial.get("service_type") or "").isdigit():
        found = selectors.service_type_for_filing(pk=int(initial["service_type"]))
    initial["service_type"] = found
    return DetailsForm(initial=initial, service_types=service_types)


def step_details(request: HttpRequest) -> HttpResponse:
    """Step 1: the service, what is needed, the amount, the service's questions."""
    draft = _draft(request)
    form = _details_form(request, draft)
    if request.method == "POST" and form.is_valid():
        draft = services.draft_save(
            actor=_actor(request), draft=draft, values=_raw(form), language=_language(request)
        )
        request.session[DRAFT_SESSION_KEY] = str(draft.pk)
        return redirect("service_requests:step", "documents")
    service_types = form.fields["service_type"].queryset  # type: ignore[attr-defined]
    return _render(
        request,
        "details",
        {"form": form, "funding_codes": [t.pk for t in service_types if t.is_funding]},
        status=400 if form.is_bound else 200,
    )


def step_documents(request: HttpRequest, draft: RequestDraft) -> HttpResponse:
    """Step 2: documents (optional), checked and kept with the draft; each can be removed."""
    kept = list(draft.files.all())
    form = DocumentsForm(already=len(kept))
    if request.method == "POST":
        remove = str(request.POST.get("remove") or "")
        if remove.isdigit() and len(remove) < 19:
            services.draft_remove_file(actor=_actor(request), draft=draft, file_id=int(remove))
            messages.success(request, _("The document was removed."))
            return redirect("service_requests:step", "documents")
        form = DocumentsForm(request.POST, request.FILES, already=len(kept))
        if form.is_valid():
            chosen = form.cleaned_data["attachments"]
            if chosen:
                services.draft_add_files(actor=_actor(request), draft=draft, files=chosen)
            if "add" in request.POST:
                return redirect("service_requests:step", "documents")
            return redirect("service_requests:step", "contact")
    return _render(
        request,
        "documents",
        {"form": form, "kept": kept},
        status=400 if form.is_bound else 200,
    )


def step_contact(request: HttpRequest, draft: RequestDraft) -> HttpResponse:
    """Step 3: how the bureau reaches the civilian (prefilled from the account)."""
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            services.draft_save(
                actor=_actor(request), draft=draft, values=_raw(form), language=_language(request)
            )
            return redirect("service_requests:step", "review")
    else:
        initial = {k: v for k, v in draft.data.items() if k.startswith("contact_")}
        user = request.user
        if not initial and user.is_authenticated:
            initial = {
                "contact_name": user.get_full_name(),  # type: ignore[union-attr]
                "contact_email": user.email,  # type: ignore[union-attr]
            }
        form = ContactForm(initial=initial)
    return _render(request, "contact", {"form": form}, status=400 if form.is_bound else 200)


def _checked(draft: RequestDraft) -> tuple[DetailsForm, ContactForm, str | None]:
    """The draft's steps re-checked by their forms, and the first step that needs changes."""
    details = DetailsForm(draft.data, service_types=selectors.service_types_open())
    contact = ContactForm(draft.data)
    if not details.is_valid():
        return details, contact, "details"
    if not contact.is_valid():
        return details, contact, "contact"
    return details, contact, None


def _summary(draft: RequestDraft, details: DetailsForm, contact: ContactForm) -> dict[str, Any]:
    fields = submit_fields(details, contact)
    shown = SimpleNamespace(service_type=fields["service_type"], answers=fields["answers"])
    return {
        "fields": fields,
        "answers": answers_for_display(shown),  # type: ignore[arg-type]
        "kept": list(draft.files.all()),
    }


def step_review(request: HttpRequest, draft: RequestDraft) -> HttpResponse:
    """Step 4: everything on one page, possible duplicates, then file (signed in) or email
    the one-time link (without an account)."""
    details, contact, broken = _checked(draft)
    if broken is not None:
        messages.error(request, _("Some answers need changing before you can submit."))
        return redirect("service_requests:step", broken)
    signed_in = request.user.is_authenticated
    confirm = ConfirmForm(initial={"submission_token": draft.submission_token})
    verify: VerifyEmailForm | None = None
    status = 200
    refusal: FilingRefusal | None = None
    if request.method == "POST" and signed_in:
        confirm = ConfirmForm(request.POST)
        current = confirm.is_valid() and (
            confirm.cleaned_data["submission_token"] == draft.submission_token
        )
        if current:
            refusal = filing_refusal(
                user=request.user,
                address=ratelimit.client_address(request),
                submission_token=draft.submission_token,
            )
        if current and refusal is None:
            return _file(request, draft, details, contact, actor=request.user)
        if refusal is not None:
            confirm.add_error(None, refusal.message)
            status = 429
        else:
            confirm.add_error(None, _("This page is out of date. Check your answers and submit."))
            status = 400
    elif request.method == "POST":
        verify = VerifyEmailForm(request.POST)
        status = 400
        if verify.is_valid() and not _links_allowed(request, verify.cleaned_data["email"]):
            verify.add_error(None, ERR_TOO_MANY_LINKS)
            status = 429
        elif verify.is_valid():
            services.draft_request_verification(
                actor=None, draft_id=draft.pk, email=verify.cleaned_data["email"]
            )
            return redirect("service_requests:verify_sent")
    # Only a page to show reads the summary and looks for duplicates.
    context = _summary(draft, details, contact)
    context["duplicates"] = (
        selectors.possible_duplicates(
            service_type_id=context["fields"]["service_type"].pk,
            description=context["fields"]["description"],
            user=request.user,
        )
        if signed_in
        else []
    )
    if verify is None:
        verify = VerifyEmailForm(initial={"email": context["fields"]["contact_email"]})
    context |= {"confirm": confirm, "verify": verify, "form": confirm if signed_in else verify}
    response = _render(request, "review", context, status=status)
    if refusal is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


ERR_TOO_MANY_LINKS = gettext_lazy(
    "We have sent too many links from here or to this address. Try again in an hour, or "
    "sign in to submit straight away."
)


def _links_allowed(request: HttpRequest, email: str) -> bool:
    """Rate limit the emailed links, per client address and per email address."""
    window = int(conf.get("VERIFY_WINDOW_SECONDS"))
    return ratelimit.hit(
        "verify-client",
        ratelimit.client_address(request),
        limit=int(conf.get("VERIFY_LIMIT_PER_CLIENT")),
        window=window,
    ) and ratelimit.hit(
        "verify-email",
        selectors.normal_email(email),
        limit=int(conf.get("VERIFY_LIMIT_PER_EMAIL")),
        window=window,
    )


def _file(
    request: HttpRequest,
    draft: RequestDraft,
    details: DetailsForm,
    contact: ContactForm,
    *,
    actor: Any,
) -> HttpResponse:
    try:
        created, is_new = services.draft_submit(
            actor=actor, draft=draft, **submit_fields(details, contact)
        )
    except RequestError as error:
        messages.error(request, error.messages[0])
        return redirect("service_requests:step", "review")
    if not is_new:
        messages.info(request, _("This request was already submitted."))
    return redirect("service_requests:confirmation", created.tracking_number)


STEP_VIEWS = {
    "documents": step_documents,
    "contact": step_contact,
    "review": step_review,
}


@never_cache
@require_http_methods(["GET", "POST"])
def request_step(request: HttpRequest, step: str) -> HttpResponse:
    """`/requests/new/<step>/`: one step of the filing form."""
    if step == "details":
        return step_details(request)
    view = STEP_VIEWS.get(step)
    draft = _draft(request)
    if view is None or draft is None:
        if step == "review" and request.method == "POST":
            filed = _filed_here(request)
            if filed is not None:
                messages.info(request, _("This request was already submitted."))
                return redirect("service_requests:confirmation", filed.tracking_number)
        return _lost(request)
    return view(request, draft)


def _filed_here(request: HttpRequest) -> ServiceRequest | None:
    """The request this browser's last draft became, if the signed-in user filed it (a second
    click on the final submit)."""
    draft_id = selectors.uuid_or_none(request.session.get(DRAFT_SESSION_KEY))
    if not request.user.is_authenticated or draft_id is None:
        return None
    found = (
        RequestDraft.objects.select_related("filed_request")
        .filter(pk=draft_id, filed_by=request.user)
        .first()
    )
    return found.filed_request if found else None


@never_cache
def verify_sent(request: HttpRequest) -> HttpResponse:
    """After the review without an account: check your email."""
    draft = _draft(request)
    if draft is None or not draft.email:
        return _lost(request)
    return render(request, "service_requests/verify_sent.html", {"email": draft.email})


@never_cache
@require_http_methods(["GET", "POST"])
def verify_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed one-time link. Opening it shows the request and a button that files it:
    a mail scanner that follows links files nothing."""
    try:
        draft = selectors.draft_from_link(token)
    except RequestError as error:
        return render(
            request, "service_requests/verify.html", {"problem": error.messages[0]}, status=400
        )
    details, contact, broken = _checked(draft)
    if broken is not None:
        request.session[DRAFT_SESSION_KEY] = str(draft.pk)
        return redirect("service_requests:step", broken)
    if request.method == "POST":
        # Checked before `filer_for`, which may make the address's guest filer: a refusal
        # writes nothing.
        refusal = filing_refusal(
            user=_actor(request),
            address=ratelimit.client_address(request),
            submission_token=draft.submission_token,
        )
        if refusal is not None:
            response = render(
                request, "service_requests/verify.html", {"problem": refusal.message}, status=429
            )
            response["Retry-After"] = str(refusal.retry_after)
            return response
        actor = services.filer_for(actor=_actor(request), email=draft.email)
        try:
            created, _is_new = services.draft_submit(
                actor=actor, draft=draft, **submit_fields(details, contact)
            )
        except RequestError as error:
            return render(
                request, "service_requests/verify.html", {"problem": error.messages[0]}, status=400
            )
        tracking.grant_tracking(request, created.tracking_number)
        request.session.pop(DRAFT_SESSION_KEY, None)
        return redirect("service_requests:confirmation", created.tracking_number)
    context = _summary(draft, details, contact)
    context["email"] = draft.email
    context["duplicates"] = selectors.possible_duplicates(
        service_type_id=context["fields"]["service_type"].pk,
        description=context["fields"]["description"],
        email=draft.email,
    )
    context["action"] = reverse("service_requests:verify", args=[token])
    return render(request, "service_requests/verify.html", context)


@require_POST
def request_claim(request: HttpRequest) -> HttpResponse:
    """Add a request filed without an account (with one of the user's verified addresses) to
    the signed-in account."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    tracking_number = str(request.POST.get("tracking_number") or "")[:24]
    found = selectors.requests_claimable(user=request.user).filter(tracking_number=tracking_number)
    target = found.first()
    try:
        if target is None:
            raise RequestError(ERR_NOT_CLAIMABLE, code="not_claimable")
        services.request_claim(actor=request.user, request_id=target.pk)  # type: ignore[arg-type]
    except RequestError as error:
        messages.error(request, error.messages[0])
        return redirect("service_requests:list")
    messages.success(
        request,
        _("%(tracking_number)s is now in your account.") % {"tracking_number": tracking_number},
    )
    return redirect("service_requests:detail", tracking_number)
