"""The services calculator page (step 2): pick a deal and a template, answer its questions, watch the range, save
it as a ROM (or as a new version of one) and go on to send it for approval from the ROM's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from psops.core.errors import ApplicationError
from psops.crm.models import Opportunity
from psops.estimating import calculator, services
from psops.estimating.models import Rom

from ..calculator_forms import ANSWER_PREFIX, AnswersForm, PickForm, initial_answers

# A ROM waiting for a decision cannot change (estimating.services.rom_revise says why).
REVISABLE = (Rom.Status.DRAFT, Rom.Status.NEEDS_DISCOVERY, Rom.Status.REJECTED, Rom.Status.APPROVED)


def _rom(request, raw: str | None) -> Rom | None:
    """The ROM to revise (?rom=<id>): not found unless its deal is visible; refused unless this user revises it."""
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404
    rom = (Rom.objects.select_related("opportunity__account", "opportunity__owner", "current")
           .filter(pk=int(raw)).first())
    if rom is None or not request.user.has_perm("crm.view_deal", rom.opportunity):
        raise Http404
    if not request.user.has_perm("estimating.revise_rom", rom):
        raise PermissionDenied("Only the ROM's author or the deal's owner revises it.")
    return rom


def _refuse(form: AnswersForm, refusal: ApplicationError) -> str | None:
    """Put a refusal beside the question it names; return it when it names none."""
    if refusal.code in ApplicationError.FORBIDDEN_CODES:
        raise PermissionDenied(refusal.message) from refusal
    if refusal.field and refusal.field in form.question_names:
        form.add_error(refusal.field, refusal.message)
        return None
    return refusal.message


def _estimate(form: AnswersForm, template: str, tables: calculator.Tables, *, quiet: bool = False):
    """The calculator's estimate of the answers, or (None, the refusal). `quiet` keeps refusals off the page (a page
    just opened has not been answered yet)."""
    try:
        return calculator.calculate(template, form.answers(), tables), None
    except ApplicationError as refusal:
        if quiet:
            return None, None
        return None, _refuse(form, refusal)


@login_required
def calculator_page(request) -> HttpResponse:
    user = request.user
    try:
        services.calculator_check(user=user)
    except ApplicationError as refusal:
        raise PermissionDenied(refusal.message) from refusal
    data = request.POST if request.method == "POST" else request.GET
    rom = _rom(request, data.get("rom"))
    pick = None
    opportunity: Opportunity | None
    template: str | None
    if rom is not None:
        opportunity, template = rom.opportunity, rom.template
    else:
        pick = PickForm(data if {"find", "opportunity", "template"} & set(data) else None, user=user)
        pick.is_valid()
        cleaned = getattr(pick, "cleaned_data", {})
        opportunity, template = cleaned.get("opportunity"), cleaned.get("template") or None
    context: dict[str, Any] = {"rom": rom, "pick": pick, "opportunity": opportunity, "template": template,
                               "revisable": rom is None or rom.status in REVISABLE}
    if template is None:
        return _render(request, context, status=400 if request.method == "POST" else 200)
    tables = calculator.tables_from_db()
    questions = calculator.questions_for(template, tables)
    context["spec"] = calculator.TEMPLATES[template]
    if request.method != "POST":
        saved = rom.current.answers if rom is not None and rom.current is not None else None
        form = AnswersForm(template=template, questions=questions,
                           initial=initial_answers(questions, saved=saved, typed=request.GET))
        bound = AnswersForm({f"{ANSWER_PREFIX}-{k}": v for k, v in form.initial.items()}, template=template,
                            questions=questions)
        context["estimate"], context["error"] = _estimate(bound, template, tables, quiet=True)
        return _render(request, {**context, "form": form})
    form = AnswersForm(request.POST, template=template, questions=questions)
    if "save" in request.POST and not request.htmx:
        return _save(request, context, form=form, rom=rom, opportunity=opportunity, template=template,
                     questions=questions, tables=tables)
    context["estimate"], context["error"] = _estimate(form, template, tables)
    if request.htmx:  # the live preview: the result, and each question's refusal (or none) beside it
        return render(request, "web/calculator.html#preview", {**context, "form": form})
    return _render(request, {**context, "form": form})


def _save(request, context: dict, *, form: AnswersForm, rom: Rom | None, opportunity: Opportunity | None,
          template: str, questions: tuple[calculator.Question, ...], tables: calculator.Tables) -> HttpResponse:
    user = request.user
    answers, assumptions = form.answers(), form.assumptions
    error: str | None = "Choose the deal this ROM is for, then save."
    if form.errors:  # assumptions too long: the form says so beside the box
        error = "Correct the marked field, then save again."
    elif rom is not None:
        try:
            version = services.rom_revise(user=user, rom=rom, answers=answers, assumptions=assumptions)
        except ApplicationError as refusal:
            error = _refuse(form, refusal)
        else:
            messages.success(request, f"Saved as v{version.number} of {rom}. Send it for approval when ready.")
            return redirect("web:rom", rom.pk)
    elif opportunity is not None:
        try:
            created = services.rom_create(user=user, opportunity=opportunity, template=template, answers=answers,
                                          assumptions=assumptions)
        except ApplicationError as refusal:
            error = _refuse(form, refusal)
        else:
            messages.success(request, f"Saved as {created}. Send it for approval when ready.")
            return redirect("web:rom", created.pk)
    # Refused, nothing saved: show the answers again with the reason, and the range they give where they give one.
    estimate, _ = _estimate(AnswersForm(request.POST, template=template, questions=questions),
                            template, tables, quiet=True)
    return _render(request, {**context, "form": form, "estimate": estimate, "error": error}, status=400)


def _render(request, context: dict, status: int = 200) -> HttpResponse:
    return render(request, "web/calculator.html", context, status=status)
