"""ROM estimates (step 2): every calculation is a new, immutable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from psops.core.errors import ApplicationError
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


def rom_revise(*, user: Any, rom: Rom, answers: dict, assumptions: str = "") -> RomVersion:
    """A recalculation (after discovery, or a change of scope) is a new version; the ROM goes back to draft and must
    be submitted again. An approved version stays as it was."""
    require(user, "estimating.revise_rom", rom, message="Only the ROM's author or the deal's owner revises it.")
    if rom.status == Rom.Status.SUBMITTED:
        raise ApplicationError(code="rom-in-approval", message="The ROM is waiting for approval; it cannot change "
                                                               "until it is decided.")
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


def rom_open_ps_opportunity(*, user: Any, rom: Rom, name: str = "", ps_amount: Any = None) -> PSOpportunity:
    """Steps 4-5: the SAL creates the child PS opportunity from the ROM; the PS amount starts as the ROM's high
    value unless the SAL enters another."""
    if rom.ps_opportunity_id:
        raise ApplicationError(code="ps-exists", message=f"{rom} already has PS opportunity "
                                                         f"'{rom.ps_opportunity}'.")
    version = rom.current
    amount = ps_amount if ps_amount is not None else (version.high if version and version.high is not None else None)
    if amount is None:
        raise ApplicationError(code="ps-amount-required", message="This ROM has no price; enter the PS amount.",
                               field="ps_amount")
    with transaction.atomic():
        ps = ps_opportunity_create(user=user, parent=rom.opportunity, name=name, ps_amount=amount)
        Rom.objects.filter(pk=rom.pk).update(ps_opportunity=ps)
        rom.ps_opportunity = ps
        if rom.status == Rom.Status.APPROVED:
            ps_stage(actor=user, ps_opportunity=ps, transition="mark_rom_approved", why="ROM already approved")
    return ps


def _range(version: RomVersion) -> str:
    if version.high is None:
        return "no price: " + ", ".join(version.flag_codes)
    return f"{version.currency} {version.low:,} - {version.high:,}"
