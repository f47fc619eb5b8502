"""One view for every record page and one for every act on it; the registries say what each kind shows.

A record page reads one page of its history, never all of it, so it costs the same with 3 events or 3,000:
- the timeline shows the record's newest EVENTS_PER_PAGE events, newest first (a log is read from what happened
  last); ?events=2 shows the next older page;
- the engagement's thread shows its newest MESSAGES_PER_PAGE messages in reading order, oldest of them first, as a
  conversation reads, with the box to post below the latest; ?messages=2 shows the page before. Reading order was
  chosen over newest-first so that a question stands above its answers and a reply lands where one reads on.
A missing, malformed or out-of-range page number shows page 1, never an error. Each pager keeps the other's page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import InvalidPage, Page, Paginator
from django.db import models
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from psops.activity.models import Message
from psops.activity.selectors import messages_in, timeline_for
from psops.activity.services import message_post, thread_for
from psops.documents.selectors import documents_on_page

from .. import acts as act_registry
from ..forms import MessageForm
from ..records import KINDS, visible
from .common import attempt, refusal_status

EVENTS_PER_PAGE = 50
MESSAGES_PER_PAGE = 50


def _newest_page(request, rows, *, param: str, per_page: int) -> Page:
    """The page of `rows` (newest first) that ?<param>= asks for, page 1 being the newest; anything but a page that
    exists shows page 1. `param` and `keep` (the other parameters of this address) are set for web/pager.html."""
    paginator = Paginator(rows, per_page)
    try:
        page = paginator.page(request.GET.get(param) or 1)
    except InvalidPage:
        page = paginator.page(1)
    others = request.GET.copy()
    others.pop(param, None)
    page.param, page.keep = param, others.urlencode()  # type: ignore[attr-defined]
    return page


def _visible(request, model_name: str, pk: int):
    return visible(request.user, model_name, pk)


def _page(request, kind, record, deal, *, open_form=None, status=200):
    acts = []
    for act in act_registry.acts_for(kind.model_name):
        refused = act.refusal(request.user, record)
        if refused is None:
            form = open_form if open_form is not None and open_form.prefix == act.code else act.make_form(
                request.user, record)
            acts.append({"act": act, "form": form, "open": form is open_form and open_form is not None})
        elif refused.code not in ("not-now", "forbidden"):
            acts.append({"act": act, "why_not": refused.message})
    thread = thread_for(deal)
    events = _newest_page(request, timeline_for(record), param="events", per_page=EVENTS_PER_PAGE)
    thread_page = _newest_page(request, messages_in(thread), param="messages", per_page=MESSAGES_PER_PAGE)
    context = {
        "kind": kind, "record": record, "deal": deal, "title": kind.title(record), "acts": acts,
        "events_page": events, "timeline": list(events.object_list),
        "thread": thread, "messages_page": thread_page, "messages_list": list(thread_page.object_list)[::-1],
        "message_form": MessageForm(), "facts_template": kind.template,
        "documents": documents_on_page(record),
    }
    response = render(request, "web/record.html", context)
    response.status_code = status
    return response


@login_required
def record_page(request, model_name: str, pk: int):
    kind, record, deal = _visible(request, model_name, pk)
    return _page(request, kind, record, deal)


@require_POST
@login_required
def record_act(request, model_name: str, pk: int, code: str):
    kind, record, deal = _visible(request, model_name, pk)
    act = act_registry.find(model_name, code)
    refused = act.refusal_of_post(request.user, record) if act is not None else None
    if act is None or refused is not None:
        # Either no such act or not for this user now: say why (the domain's own refusal), change nothing.
        if refused is None:
            messages.error(request, "There is no such action.")
            return _page(request, kind, record, deal, status=404)
        messages.error(request, refused.message)
        return _page(request, kind, record, deal, status=409 if refused.code == "not-now" else refused.http_status)
    form = act.make_form(request.user, record, request.POST, request.FILES)
    if form is not None and not form.is_valid():
        return _page(request, kind, record, deal, open_form=form, status=400)
    data = form.cleaned_data if form is not None else {}
    result = attempt(request, lambda: act.run(request.user, record, data), success=act.success, form=form,
                     forbidden_in_page=True)
    if result is None:
        record = kind.load(pk)
        return _page(request, kind, record, deal, open_form=form, status=refusal_status(request))
    opens = act.opens_result and isinstance(result, models.Model) and result._meta.model_name in KINDS
    target = result if opens else record
    return redirect(f"web:{target._meta.model_name}", target.pk)


def posted_message(posted: Message) -> str:
    if getattr(posted, "already_posted", False):
        return "Already posted: the thread keeps this message once."
    unseen = getattr(posted, "unseen_mentions", [])
    if unseen:
        names = ", ".join(f"@{u.username}" for u in unseen)
        return f"Posted to the engagement's thread. Not notified, as they do not see this deal: {names}."
    return "Posted to the engagement's thread."


@require_POST
@login_required
def record_message(request, model_name: str, pk: int):
    kind, record, deal = _visible(request, model_name, pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        thread = thread_for(deal)
        parent_id = form.cleaned_data["parent"]
        parent = thread.messages.filter(pk=parent_id).first() if parent_id else None
        if parent_id and parent is None:
            messages.error(request, "That message is not in this engagement's thread.")
            return redirect(f"web:{model_name}", pk)
        attempt(request, lambda: message_post(user=request.user, thread=thread, body=form.cleaned_data["body"],
                                              kind=form.cleaned_data["kind"] or Message.Kind.COMMENT,
                                              subject=record, parent=parent),
                success=posted_message)
    else:
        messages.error(request, "Write a message before posting.")
    return redirect(f"web:{model_name}", pk)
