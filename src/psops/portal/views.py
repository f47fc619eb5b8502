"""The customer's side: one page per private link, no account needed.

GET shows the thing the link is for (quote, SOW, completion acceptance, sign-off) with its answers. POST runs the
one service the customer chose as a `CustomerActor` (the contact, the address and browser it came from) and uses up
the link in the same transaction, so a refused answer leaves the link usable and changes nothing. A link that
cannot be used gets a page saying why and whom to ask: 404 when unknown or altered, 410 when expired, used or
replaced.

A completion or sign-off request still pending after its deadline is settled (accepted passively, exactly as the
timer would, idempotently) before its page is shown or answered, so the customer sees what the deadline decided
whether or not the worker has run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from psops.core.business_days import local_date
from psops.core.client import client_address
from psops.core.errors import ApplicationError
from psops.crm.customer import CustomerActor
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest
from psops.documents import services as docs
from psops.documents.models import Document, Format, Kind
from psops.links.models import CustomerLink
from psops.links.services import LinkRefused, link_resolve, link_use
from psops.sales import services as sales
from psops.sales.models import Quote, Sow
from psops.web.downloads import document_response

from .forms import ChangesForm, DeclineForm, NotCompleteForm, ShownForm, SignForm, SignOffForm, SowSignForm

GONE_STATUS = {"link-expired": 410, "link-used": 410, "link-revoked": 410}
Purpose = CustomerLink.Purpose


@dataclass(frozen=True)
class Action:
    """One answer the customer can give: the form it needs (under `form_key` in the page), the service it runs,
    and what the thank-you page says."""

    run: Callable[[CustomerActor, Any, dict], Any]
    done: str
    form: type[forms.Form] | None = None
    form_key: str = ""


@dataclass(frozen=True)
class Page:
    template: str
    model: type[models.Model]
    context: Callable[[Any], dict]
    actions: dict[str, Action] = field(default_factory=dict)
    kind: str = ""  # for acceptance requests: the kind the subject must be


def _shown(documents: list[Document | None]) -> dict:
    """The documents the page offers (the first is the one the answer is about) and its SHA-256 for the forms."""
    found = [d for d in documents if d is not None]
    return {"documents": found, "shown": {"document_sha256": found[0].sha256 if found else ""}}


def _quote_context(quote: Quote) -> dict:
    expired = quote.valid_until < timezone.localdate()
    shown = _shown([docs.current_document(quote, Kind.QUOTE)])
    return {"quote": quote, "lines": quote.lines.all(), "expired": expired,
            "open": quote.state == Quote.State.SENT and not expired, "decline_form": DeclineForm(),
            "accept_form": ShownForm(initial=shown["shown"]), **shown}


def _sow_context(sow: Sow) -> dict:
    content_hash = sow.content_hash()
    shown = _shown([docs.current_document(sow, Kind.SOW), docs.current_document(sow, Kind.SOW, Format.DOCX)])
    return {"sow": sow, "milestones": sow.milestones.all(), "content_hash": content_hash,
            "open": sow.state == Sow.State.SENT,
            "sign_form": SowSignForm(initial={"content_hash": content_hash, **shown["shown"]}),
            "changes_form": ChangesForm(initial=shown["shown"]), **shown}


def _acceptance_context(request: AcceptanceRequest) -> dict:
    project = request.project
    overdue = delivery.acceptance_past_deadline(request)
    return {"acceptance": request, "project": project, "sow": project.sow,
            "open": request.state == AcceptanceRequest.State.PENDING and not overdue,
            # Still pending past the deadline only if settling it failed: the deadline has decided all the same.
            "passive": request.state == AcceptanceRequest.State.PASSIVE or overdue,
            "passive_date": delivery.passive_acceptance_date(request),
            "business_days": settings.PSOPS["PASSIVE_ACCEPTANCE_BUSINESS_DAYS"],
            "deadline": local_date(request.passive_at) - dt.timedelta(days=1),  # last business day
            "sign_form": SignForm(), "reason_form": NotCompleteForm(), **_sign_off_shown(request)}


def _sign_off_shown(request: AcceptanceRequest) -> dict:
    """A sign-off page offers the document sent with the request; a completion page offers none."""
    if request.kind != AcceptanceRequest.Kind.SIGN_OFF:
        return {"documents": []}
    shown = _shown([request.document])
    return {**shown, "sign_form": SignOffForm(initial=shown["shown"]), "reply_form": ShownForm(initial=shown["shown"])}


def _settle_if_overdue(subject: Any) -> Any:
    """A completion or sign-off request left pending past its deadline is accepted passively now, by the timer's own
    service (running it twice changes nothing); returns the record as it now stands."""
    if not isinstance(subject, AcceptanceRequest) or not delivery.acceptance_past_deadline(subject):
        return subject
    with contextlib.suppress(ApplicationError):  # the page then still says the deadline passed, offers no answer
        delivery.acceptance_passive(request_id=subject.pk)
    return AcceptanceRequest.objects.get(pk=subject.pk)


PAGES = {
    Purpose.QUOTE: Page(
        template="portal/quote.html", model=Quote, context=_quote_context,
        actions={
            "accept": Action(run=lambda c, q, d: sales.quote_accept(customer=c, quote=q,
                                                                    document_sha256=d["document_sha256"]),
                             form=ShownForm, form_key="accept_form",
                             done="You accepted the quote. We will prepare the statement of work and send it to "
                                  "you for signature."),
            "decline": Action(run=lambda c, q, d: sales.quote_decline(customer=c, quote=q, reason=d["reason"]),
                              form=DeclineForm, form_key="decline_form",
                              done="You declined the quote. Thank you for letting us know."),
        }),
    Purpose.SOW: Page(
        template="portal/sow.html", model=Sow, context=_sow_context,
        actions={
            "sign": Action(run=lambda c, s, d: sales.sow_sign(customer=c, sow=s, name=d["name"], title=d["title"],
                                                             content_hash=d["content_hash"],
                                                             document_sha256=d["document_sha256"]),
                           form=SowSignForm, form_key="sign_form",
                           done="You signed the statement of work. We will be in touch to plan the project."),
            "changes": Action(run=lambda c, s, d: sales.sow_request_changes(customer=c, sow=s, changes=d["changes"]),
                              form=ChangesForm, form_key="changes_form",
                              done="We received the changes you need and will send you a revised statement of "
                                   "work."),
        }),
    Purpose.COMPLETION: Page(
        template="portal/completion.html", model=AcceptanceRequest, kind=AcceptanceRequest.Kind.COMPLETION,
        context=_acceptance_context,
        actions={
            "accept": Action(run=lambda c, r, d: delivery.completion_accept(customer=c, request=r, name=d["name"],
                                                                           title=d["title"]),
                             form=SignForm, form_key="sign_form",
                             done="You accepted the work as complete. Thank you."),
            "reject": Action(run=lambda c, r, d: delivery.completion_reject(customer=c, request=r,
                                                                           reason=d["reason"]),
                             form=NotCompleteForm, form_key="reason_form",
                             done="We received what is not complete; the team will finish it and ask you again."),
        }),
    Purpose.SIGN_OFF: Page(
        template="portal/sign_off.html", model=AcceptanceRequest, kind=AcceptanceRequest.Kind.SIGN_OFF,
        context=_acceptance_context,
        actions={
            "sign": Action(run=lambda c, r, d: delivery.sign_off_sign(customer=c, request=r, name=d["name"],
                                                                     title=d["title"],
                                                                     document_sha256=d["document_sha256"]),
                           form=SignOffForm, form_key="sign_form", done="You signed the sign-off document. Thank you."),
            "reply": Action(run=lambda c, r, d: delivery.sign_off_reply(customer=c, request=r,
                                                                       document_sha256=d["document_sha256"]),
                            form=ShownForm, form_key="reply_form",
                            done="You accepted the sign-off document. Thank you."),
        }),
}


def _sender(link: CustomerLink | None, subject: Any) -> Any:
    """Whom the customer should ask about this link: the person who sent it, or the deal's sales rep."""
    if link is None or subject is None:
        return None
    if isinstance(subject, AcceptanceRequest):
        return subject.sent_by
    if isinstance(subject, Quote | Sow):
        return subject.ps_opportunity.owner
    return None


def _subject(link: CustomerLink) -> Any:
    """The record the link is for, if it is of the kind its purpose says (anything else is treated as unknown)."""
    page = PAGES[Purpose(link.purpose)]
    subject = link.subject
    if not isinstance(subject, page.model) or (page.kind and getattr(subject, "kind", None) != page.kind):
        return None
    return subject


def _respond(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _gone(request: HttpRequest, refusal: ApplicationError) -> HttpResponse:
    link = getattr(refusal, "link", None)
    subject = _subject(link) if link is not None else None
    return _respond(request, "portal/gone.html",
                    {"refusal": refusal, "link": link, "sender": _sender(link, subject)},
                    status=GONE_STATUS.get(refusal.code, 404))


def _customer(request: HttpRequest, link: CustomerLink) -> CustomerActor:
    return CustomerActor(contact=link.contact, ip_address=client_address(request)[:64],
                         user_agent=request.META.get("HTTP_USER_AGENT", "")[:400])


def _opened(request: HttpRequest, token: str) -> tuple[CustomerLink, Any] | HttpResponse:
    """The live link behind `token` and its record (settled if its deadline passed), or the page saying why not."""
    try:
        link = link_resolve(token)
    except LinkRefused as refusal:
        return _gone(request, refusal)
    subject = _subject(link)
    if subject is None:
        return _gone(request, LinkRefused(code="link-unknown", message="This link is not valid."))
    return link, _settle_if_overdue(subject)


@never_cache
@require_http_methods(["GET", "POST"])
def link_page(request: HttpRequest, token: str) -> HttpResponse:
    opened = _opened(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, subject = opened
    page = PAGES[Purpose(link.purpose)]
    context = {"link": link, "link_token": token, "contact": link.contact, "sender": _sender(link, subject),
               **page.context(subject)}
    if request.method == "GET":
        return _respond(request, page.template, context)

    action = page.actions.get(request.POST.get("action", ""))
    if action is None:
        context["error"] = "This link cannot do that. Use one of the buttons on this page."
        return _respond(request, page.template, context, status=400)
    data: dict = {}
    form = None
    if action.form is not None:
        form = action.form(request.POST)
        context[action.form_key] = form
        if not form.is_valid():
            context["error"] = "Please check the fields marked below."
            return _respond(request, page.template, context, status=400)
        data = form.cleaned_data
    try:
        link_use(link, lambda: action.run(_customer(request, link), subject, data))
    except LinkRefused as refusal:  # used up by a simultaneous answer, or expired meanwhile
        return _gone(request, refusal)
    except ApplicationError as refusal:
        context["error"] = refusal.message
        # The deadline may have passed between showing the page and the answer: settle it now, as on opening.
        context.update(page.context(_settle_if_overdue(type(subject).objects.get(pk=subject.pk))))
        if form is not None:
            context[action.form_key] = form
        return _respond(request, page.template, context, status=400)
    return _respond(request, "portal/thanks.html", {"link": link, "contact": link.contact, "done": action.done,
                                                    "sender": _sender(link, subject)})


@never_cache
@require_http_methods(["GET"])
def link_document(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    """A document the link's page offers, while the link is live: the PDF shown in the browser, the Word file
    downloaded. Any other document, or a link that cannot be used, is not found."""
    opened = _opened(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, subject = opened
    offered = PAGES[Purpose(link.purpose)].context(subject).get("documents", [])
    document = next((d for d in offered if d.pk == pk), None)
    data = docs.read_bytes(document) if document is not None else None
    if document is None or data is None:
        return _gone(request, LinkRefused(code="link-unknown", message="This document is not offered by this link."))
    return document_response(document, data)
