"""One view for every record page and one for every act on it; the registries say what each kind shows."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from psops.activity.models import Message
from psops.activity.selectors import messages_in, timeline_for
from psops.activity.services import message_post, thread_for

from .. import acts as act_registry
from ..forms import MessageForm
from ..records import KINDS
from .common import attempt, refusal_status


def _visible(request, model_name: str, pk: int):
    kind = KINDS.get(model_name)
    if kind is None:
        raise Http404
    try:
        record = kind.load(pk)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc
    deal = kind.deal_of(record)
    # Guessing an id shows nothing: a record outside what this user may see is simply not found.
    if not request.user.has_perm("crm.view_deal", deal):
        raise Http404
    return kind, record, deal


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
    context = {
        "kind": kind, "record": record, "deal": deal, "title": kind.title(record), "acts": acts,
        "timeline": timeline_for(record)[:200], "thread": thread, "messages_list": messages_in(thread),
        "message_form": MessageForm(), "facts_template": kind.template,
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
    form = act.make_form(request.user, record, request.POST)
    if form is not None and not form.is_valid():
        return _page(request, kind, record, deal, open_form=form, status=400)
    data = form.cleaned_data if form is not None else {}
    result = attempt(request, lambda: act.run(request.user, record, data), success=act.success, form=form)
    if result is None:
        record = kind.load(pk)
        return _page(request, kind, record, deal, open_form=form, status=refusal_status(request))
    opens = act.opens_result and isinstance(result, models.Model) and result._meta.model_name in KINDS
    target = result if opens else record
    return redirect(f"web:{target._meta.model_name}", target.pk)


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
                success=lambda posted: ("Already posted: the thread keeps this message once." if posted.already_posted
                                        else "Posted to the engagement's thread."))
    else:
        messages.error(request, "Write a message before posting.")
    return redirect(f"web:{model_name}", pk)
