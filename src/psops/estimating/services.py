"""ROM estimates (step 2): every calculation is a new, immutable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from psops.core.errors import ApplicationError
from psops.core.money import parse_amount
from psops.core.permissions import require
from psops.crm.models import Opportunity, PSOpportunity
from psops.crm.services import ps_opportunity_create, ps_stage, record, save_transition

from . import calculator
from .models import Rom, RomVersion


def _new_version(*, user: Any, rom: Rom, answers: dict, assumptions: str) -> RomVersion:
    estimate = calculator.calculate(rom.template, answers, calculator.tables_from_db())
    data = estimate.as_dict()
    number = (rom.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = RomVersion.objects.create(
        rom=rom, number=number, answers={k: str(v) for k, v in answers.items()}, lines=data["lines"],
        flags=data["flags"], currency=estimate.currency, low=estimate.low, high=estimate.high,
        assumptions="\n".join([*estimate.assumptions, *([assumptions.strip()] if assumptions.strip() else [])]),
        table_versions=estimate.table_versions, created_by=user,
    )
    rom.current = version
    return version


CALCULATOR_USERS = "The calculator is for sales reps, solutions architects and TAMs."


def calculator_check(*, user: Any) -> None:
    """Who prices with the calculator (the page and the API): the roles that build ROMs."""
    from psops.accounts import roles

    if not (getattr(user, "is_superuser", False)
            or roles.has_role(user, roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM)):
        raise ApplicationError(code="forbidden", message=CALCULATOR_USERS)


def rom_create(*, user: Any, opportunity: Opportunity, template: str, answers: dict,
               assumptions: str = "") -> Rom:
    """Step 2: the SAL or SA turns the scoping answers into a ROM with the services calculator."""
    require(user, "crm.estimate_opportunity", opportunity,
            message="Only a sales rep, solutions architect or TAM builds a ROM.")
    if not opportunity.is_open:
        raise ApplicationError(code="deal-closed", message="The opportunity is closed.")
    if template not in calculator.TEMPLATES:
        raise ApplicationError(code="unknown-template", message=f"Unknown calculator template '{template}'.",
                               field="template")
    if opportunity.currency != "USD":
        raise ApplicationError(code="currency-mismatch", message="The calculator prices in USD; this deal is in "
                                                                 f"{opportunity.currency}.")
    with transaction.atomic():
        rom = Rom.objects.create(opportunity=opportunity, template=template, created_by=user)
        version = _new_version(user=user, rom=rom, answers=answers, assumptions=assumptions)
        rom.save(update_fields=["current"])
        record(actor=user, opportunity=opportunity, subject=rom, verb="rom.created",
               message=f"{user} built {rom} v1: {_range(version)}", data={"version": 1})
    return rom


def _rom_open_for_change(rom: Rom) -> None:
    """A ROM changes only while nothing stands on it: not while it waits for approval, and not while a quote built
    on it is live (waiting for approval, approved, sent, or accepted by the customer)."""
    if rom.status == Rom.Status.SUBMITTED:
        raise ApplicationError(code="rom-in-approval", message="The ROM is waiting for approval; it cannot change "
                                                               "until it is decided.")
    if rom.ps_opportunity is None:
        return
    # Quotes belong to a later app; they are found through the PS opportunity's reverse relation by name.
    live = rom.ps_opportunity.quotes.filter(state__in=("pending-approval", "approved", "sent", "accepted")).first()
    if live is not None:
        if live.state == "accepted":
            raise ApplicationError(code="rom-committed", message=f"The customer accepted {live}, built on this ROM; "
                                                                 "the ROM is final.")
        raise ApplicationError(code="rom-committed", message=f"{live} is built on this ROM and is "
                                                             f"{live.get_state_display().lower()}; withdraw it "
                                                             "before revising the ROM.")


def rom_revise_check(*, user: Any, rom: Rom) -> None:
    require(user, "estimating.revise_rom", rom, message="Only the ROM's author or the deal's owner revises it.")
    _rom_open_for_change(rom)


def rom_revise(*, user: Any, rom: Rom, answers: dict, assumptions: str = "") -> RomVersion:
    """A recalculation (after discovery, or a change of scope) is a new version; the ROM goes back to draft and must
    be submitted again. An approved version stays as it was."""
    rom_revise_check(user=user, rom=rom)
    with transaction.atomic():
        was = rom.status
        rom.revise()
        version = _new_version(user=user, rom=rom, answers=answers, assumptions=assumptions)
        save_transition(rom)
        record(actor=user, opportunity=rom.opportunity, subject=rom, verb="rom.revised",
               message=f"{user} revised {rom} to v{version.number}: {_range(version)}",
               data={"version": version.number, "was": was})
        ps = rom.ps_opportunity
        if ps is not None and was == Rom.Status.APPROVED and ps.stage == "approved":
            ps_stage(actor=user, ps_opportunity=ps, transition="mark_rom_revised", why="ROM revised")
    return version


def rom_open_ps_opportunity_check(*, user: Any, rom: Rom) -> None:
    require(user, "crm.create_ps_opportunity", rom.opportunity,
            message="Only the deal's sales rep (or their manager) creates its PS opportunity.")
    if rom.ps_opportunity_id:
        raise ApplicationError(code="ps-exists", message=f"{rom} already has PS opportunity "
                                                         f"'{rom.ps_opportunity}'.")
    if rom.status == Rom.Status.REJECTED:
        raise ApplicationError(code="rom-rejected", message=f"{rom} was rejected; revise it (a new version) before "
                                                            "it opens a PS opportunity.")


def rom_open_ps_opportunity(*, user: Any, rom: Rom, name: str = "", ps_amount: Any = None) -> PSOpportunity:
    """Steps 4-5: the SAL creates the child PS opportunity from the ROM; the PS amount starts as the ROM's high
    value unless the SAL enters another. One ROM opens one PS opportunity, even when two people ask at once."""
    asked = rom
    with transaction.atomic():
        # Judge the ROM as it is now, locked, not as the page that asked saw it.
        rom = (Rom.objects.select_for_update(of=("self",))  # the ROM row only: its PS opportunity may be none yet
               .select_related("opportunity", "current", "ps_opportunity").get(pk=rom.pk))
        rom_open_ps_opportunity_check(user=user, rom=rom)
        version = rom.current
        amount = ps_amount if ps_amount is not None else (version.high if version and version.high is not None
                                                          else None)
        if amount is None:
            raise ApplicationError(code="ps-amount-required", message="This ROM has no price; enter the PS amount.",
                                   field="ps_amount")
        ps = ps_opportunity_create(user=user, parent=rom.opportunity, name=name, ps_amount=amount)
        # Conditional: on a database without row locks, the second of two simultaneous requests finds the ROM
        # taken and rolls back its PS opportunity.
        if not Rom.objects.filter(pk=rom.pk, ps_opportunity__isnull=True).update(ps_opportunity=ps):
            raise ApplicationError(code="ps-exists", message=f"{rom} already has a PS opportunity.")
        rom.ps_opportunity = asked.ps_opportunity = ps
        if rom.status == Rom.Status.APPROVED:
            ps_stage(actor=user, ps_opportunity=ps, transition="mark_rom_approved", why="ROM already approved")
    return ps


def rom_estimate_manual_check(*, user: Any, rom: Rom) -> None:
    require(user, "estimating.estimate_manually", rom,
            message="The engagement manager (a PS manager) enters the estimate the calculator cannot make.")
    if calculator.FLAG_ENGAGEMENT_MANAGER not in (rom.current.flag_codes if rom.current else []):
        raise ApplicationError(code="rom-priced", message=f"{rom} has a calculator price; revise its answers "
                                                          "instead.")
    _rom_open_for_change(rom)
    if rom.status == Rom.Status.APPROVED:
        raise ApplicationError(code="rom-approved", message=f"{rom} is approved already.")


def rom_estimate_manual(*, user: Any, rom: Rom, low: Any, high: Any, note: str) -> RomVersion:
    """Beyond the migration matrix the calculator gives no price, only the engagement-manager-estimate flag: the
    engagement manager enters a low and a high value with the reasoning, as a new version. It then goes through
    approval like any ROM version, and its author (the engagement manager) cannot approve it."""
    rom_estimate_manual_check(user=user, rom=rom)
    previous = rom.current
    assert previous is not None  # the check refuses a ROM without a version
    currency = previous.currency
    low_value = parse_amount(low, currency, field="low")
    high_value = parse_amount(high, currency, field="high")
    if low_value > high_value or high_value <= 0:
        raise ApplicationError(code="invalid-range", message="The low value must be at most the high value, and the "
                                                             "high value above zero.", field="low")
    if not (note or "").strip():
        raise ApplicationError(code="note-required", message="Say how the estimate was made.", field="note")
    with transaction.atomic():
        was = rom.status
        rom.revise()
        number = (rom.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        flags = [f for f in previous.flags
                 if f["code"] not in (calculator.FLAG_ENGAGEMENT_MANAGER, calculator.FLAG_TECHNICAL_REVIEW)]
        flags.append({"code": "manual-estimate", "message": f"Estimated by the engagement manager: {note.strip()}"})
        review = calculator.review_flag(high_value, currency, calculator.policy_review_threshold())
        if review is not None:
            flags.append(review.as_dict())
        version = RomVersion.objects.create(
            rom=rom, number=number, answers=previous.answers, currency=currency, low=low_value, high=high_value,
            lines=[{"code": "EM-ESTIMATE", "description": f"Engagement manager's estimate: {note.strip()[:150]}",
                    "quantity": 1, "low": str(low_value), "high": str(high_value)}],
            flags=flags, assumptions="\n".join(filter(None, [previous.assumptions, note.strip()])),
            table_versions=previous.table_versions, created_by=user)
        rom.current = version
        save_transition(rom)
        record(actor=user, opportunity=rom.opportunity, subject=rom, verb="rom.estimated",
               message=f"{user} entered the engagement manager's estimate as {rom} v{number}: {_range(version)}",
               data={"version": number, "was": was})
    return version


def _range(version: RomVersion) -> str:
    if version.high is None:
        return "no price: " + ", ".join(version.flag_codes)
    return f"{version.currency} {version.low:,} - {version.high:,}"
