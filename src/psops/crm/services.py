"""Accounts, contacts, opportunities and PS opportunities (steps 4 and 5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from psops.accounts import roles
from psops.activity.services import event_record, notify, thread_for
from psops.core.errors import ApplicationError
from psops.core.money import check_currency, parse_amount
from psops.core.permissions import require

from .choices import CLOSED_STAGES, DEAD_STAGES, INACTIVITY_STAGES, PS_OPEN_STAGES, LossReason, PSStage, Segment, Stage
from .models import Account, Contact, Opportunity, PSOpportunity
from .tasks import schedule_inactivity_check

STAGE_ORDER = [s.value for s in Stage]


def record(*, actor: Any, opportunity: Opportunity, subject: Any, verb: str, message: str,
           data: dict | None = None) -> None:
    """Timeline event on any record of a deal's chain, filed under the deal's one thread."""
    label = actor.label if hasattr(actor, "label") else ""
    event_record(actor=actor, subject=subject, verb=verb, message=message, thread=thread_for(opportunity),
                 actor_label=label, data=data)


def save_transition(obj: Any, **kwargs: Any) -> None:
    """Save a state change with optimistic locking: if someone else changed the state first, refuse."""
    try:
        obj.save(**kwargs)
    except ConcurrentTransition as exc:
        raise ApplicationError(code="conflict",
                               message=f"{obj._meta.verbose_name.capitalize()} was changed by someone else; "
                                       "reload and try again.") from exc


def contact_check(*, contact: Contact, opportunity: Opportunity) -> None:
    """Documents and links go only to a contact of the deal's customer."""
    if contact.account_id != opportunity.account_id:
        raise ApplicationError(code="wrong-contact", message=f"{contact} is not a contact of {opportunity.account}.",
                               field="contact")


def account_create(*, user: Any, name: str, website: str = "", owner: Any = None) -> Account:
    require(user, "crm.create_account")
    name = (name or "").strip()
    if not name:
        raise ApplicationError(code="invalid-name", message="An account needs a name.", field="name")
    with transaction.atomic():
        if Account.objects.filter(name__iexact=name).exists():
            raise ApplicationError(code="duplicate-account", message=f"An account named '{name}' exists already.",
                                   field="name")
        account = Account.objects.create(name=name, website=website, owner=owner or user)
        event_record(actor=user, subject=account, verb="account.created", message=f"{user} created account {name}")
    return account


def contact_create_check(*, user: Any, account: Account) -> None:
    require(user, "crm.create_account", message="Only sales and administrators add customer contacts.")


def contact_create(*, user: Any, account: Account, name: str, email: str, title: str = "") -> Contact:
    contact_create_check(user=user, account=account)
    if not (name or "").strip() or "@" not in (email or ""):
        raise ApplicationError(code="invalid-contact", message="A contact needs a name and an e-mail address.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                contact = Contact.objects.create(account=account, name=name.strip(), email=email.strip().lower(),
                                                 title=title)
        except IntegrityError as exc:
            raise ApplicationError(code="duplicate-contact",
                                   message=f"{email} is already a contact of {account}.") from exc
        event_record(actor=user, subject=account, verb="contact.created", message=f"{user} added contact {name}")
    return contact


def opportunity_create(*, user: Any, account: Account, name: str, close_date: dt.date, segment: str,
                       amount: Any = "0", currency: str = "USD", owner: Any = None) -> Opportunity:
    require(user, "crm.create_opportunity")
    if segment not in Segment.values:
        raise ApplicationError(code="invalid-segment", message=f"Unknown segment '{segment}'.", field="segment")
    check_currency(currency)
    value = parse_amount(amount, currency, field="amount")
    if not (name or "").strip():
        raise ApplicationError(code="invalid-name", message="An opportunity needs a name.", field="name")
    with transaction.atomic():
        opp = Opportunity.objects.create(account=account, name=name.strip(), owner=owner or user, amount=value,
                                         currency=currency, close_date=close_date, segment=segment)
        thread_for(opp, title=f"{account.name}: {opp.name}")
        record(actor=user, opportunity=opp, subject=opp, verb="opportunity.created",
               message=f"{user} created the opportunity")
    return opp


def deal_open_check(*, user: Any) -> None:
    require(user, "crm.create_opportunity", message="Only sales reps create deals.")


def deal_open(*, user: Any, account: Account | None, account_name: str = "", contact_name: str = "",
              contact_email: str = "", contact_title: str = "", name: str, close_date: dt.date, segment: str,
              amount: Any = "0", currency: str = "USD", solutions_architect: Any = None,
              tam: Any = None) -> Opportunity:
    """Step 1 as a sales rep starts it (the new-deal page, the API): the customer's account (an existing one, or a
    new one named `account_name`), an optional first contact, the opportunity, and its SA and TAM. All or nothing."""
    deal_open_check(user=user)
    if account is None and not (account_name or "").strip():
        raise ApplicationError(code="invalid-account", message="Choose an existing account or name a new one.",
                               field="account_name")
    if bool(contact_name) != bool(contact_email):
        raise ApplicationError(code="invalid-contact", message="A contact needs both a name and an e-mail address.",
                               field="contact_email")
    with transaction.atomic():
        account = account or account_create(user=user, name=account_name)
        if contact_name:
            contact_create(user=user, account=account, name=contact_name, email=contact_email, title=contact_title)
        deal = opportunity_create(user=user, account=account, name=name, close_date=close_date, segment=segment,
                                  amount=amount, currency=currency)
        if solutions_architect or tam:
            deal_team_set(user=user, opportunity=deal, solutions_architect=solutions_architect, tam=tam)
    return deal


TEAM_WHO = "Only the deal's owner, their manager or an administrator names the deal's team."


def deal_team_set_check(*, user: Any, opportunity: Opportunity, solutions_architect: Any = None,
                        tam: Any = None) -> None:
    """Who names the deal's solutions architect and TAM, and that each named person holds that role."""
    require(user, "crm.name_deal_team", opportunity, message=TEAM_WHO)
    if opportunity.stage in CLOSED_STAGES:
        raise ApplicationError(code="deal-closed", message="The deal is closed; its team no longer changes.")
    for person, role_name, field, label in ((solutions_architect, roles.SOLUTIONS_ARCHITECT, "solutions_architect",
                                             "solutions architect"), (tam, roles.TAM, "tam", "TAM")):
        if person is not None and (not person.is_active or not roles.has_role(person, role_name)):
            raise ApplicationError(code="not-in-role", message=f"{person} is not an active {label}.", field=field)


def deal_team_set(*, user: Any, opportunity: Opportunity, solutions_architect: Any = None,
                  tam: Any = None) -> Opportunity:
    """Name (or clear) the deal's solutions architect and TAM. Each newly named person is told, and the deal's work
    reaches their home queue."""
    deal_team_set_check(user=user, opportunity=opportunity, solutions_architect=solutions_architect, tam=tam)
    before = (opportunity.solutions_architect_id, opportunity.tam_id)
    after = (getattr(solutions_architect, "pk", None), getattr(tam, "pk", None))
    if before == after:
        raise ApplicationError(code="unchanged", message="The deal's team is already so.")
    with transaction.atomic():
        opportunity.solutions_architect, opportunity.tam = solutions_architect, tam
        opportunity.save(update_fields=["solutions_architect", "tam"])
        named = [f"{label} {person or 'none'}" for label, person in (("solutions architect", solutions_architect),
                                                                      ("TAM", tam))]
        record(actor=user, opportunity=opportunity, subject=opportunity, verb="opportunity.team",
               message=f"{user} named the deal's team: " + ", ".join(named),
               data={"solutions_architect": after[0], "tam": after[1]})
        newly = [p for p, old in ((solutions_architect, before[0]), (tam, before[1]))
                 if p is not None and p.pk != old and p.pk != user.pk]
        notify(recipients=newly, kind="team", subject=opportunity,
               text=f"{user} added you to the deal {opportunity.account.name}: {opportunity.name}")
    return opportunity


MOVE_WHO = "Only the deal's owner, their manager or an administrator moves this deal."
MOVE_BACK_WHO = "Moving a deal back, or reopening a closed one, is an administrator's act."


def opportunity_move_stage_check(*, user: Any, opportunity: Opportunity, stage: str | None = None,
                                 reason: str = "") -> None:
    """Who may move this deal, and, given a stage, whether that move is allowed. Owners (and their managers) move a
    deal forward only; moving back or reopening a closed deal is an administrator's act with a reason. Closing the
    deal lost, unqualified or a duplicate closes its PS children with it, which a signed SOW forbids."""
    _move_permitted(user=user, opportunity=opportunity, stage=stage, reason=reason)
    if stage in DEAD_STAGES:
        _children_may_close(opportunity)


def _move_permitted(*, user: Any, opportunity: Opportunity, stage: str | None, reason: str) -> None:
    """Who may move the deal, and whether to `stage` (forward for owners, back for administrators with a reason):
    the rule without the deal's children, so the stage form asks it of every stage without reading them."""
    current = opportunity.stage
    if stage is None:  # the page asks whether to offer the act at all
        if current in CLOSED_STAGES:
            require(user, "crm.reopen_opportunity", opportunity, message=MOVE_BACK_WHO)
        elif not user.has_perm("crm.reopen_opportunity", opportunity):
            require(user, "crm.advance_opportunity", opportunity, message=MOVE_WHO)
        return
    if stage not in STAGE_ORDER:
        raise ApplicationError(code="invalid-stage", message=f"Unknown stage '{stage}'.", field="stage")
    if stage == current:
        raise ApplicationError(code="same-stage", message=f"The deal is already in {Stage(stage).label}.",
                               field="stage")
    forward = current not in CLOSED_STAGES and STAGE_ORDER.index(stage) > STAGE_ORDER.index(current)
    if forward:
        require(user, "crm.advance_opportunity", opportunity, message=MOVE_WHO)
    else:
        require(user, "crm.reopen_opportunity", opportunity, message=MOVE_BACK_WHO)
        if not reason.strip():
            raise ApplicationError(code="reason-required", message="Moving a deal back needs a reason.",
                                   field="reason")


def opportunity_move_is_back(opportunity: Opportunity, stage: str) -> bool:
    """Whether moving to `stage` is a move back (or a reopening), which needs an administrator and a reason."""
    current = opportunity.stage
    return current in CLOSED_STAGES or STAGE_ORDER.index(stage) < STAGE_ORDER.index(current)


def opportunity_move_stage_allowed(*, user: Any, opportunity: Opportunity, stage: str) -> bool:
    """Whether `user` may move the deal to `stage` at all (a reason aside): what the stage form offers. A move its
    children forbid (closing lost with a signed SOW) is offered, and refused with the reason if chosen."""
    try:
        _move_permitted(user=user, opportunity=opportunity, stage=stage, reason="(asked)")
    except ApplicationError:
        return False
    return True


def opportunity_move_stage(*, user: Any, opportunity: Opportunity, stage: str, reason: str = "") -> Opportunity:
    opportunity_move_stage_check(user=user, opportunity=opportunity, stage=stage, reason=reason)
    current = opportunity.stage
    with transaction.atomic():
        opportunity.move_to(stage)
        opportunity.stage_changed_at = timezone.now()
        save_transition(opportunity)
        record(actor=user, opportunity=opportunity, subject=opportunity, verb="opportunity.stage",
               message=f"{user} moved the deal from {Stage(current).label} to {Stage(stage).label}"
                       + (f": {reason}" if reason else ""),
               data={"from": current, "to": stage, "reason": reason})
        if stage in DEAD_STAGES:
            _close_children(actor=user, opportunity=opportunity)
        if stage in INACTIVITY_STAGES:
            schedule_inactivity_check(opportunity)
    return opportunity


def _children_may_close(opportunity: Opportunity) -> None:
    signed = opportunity.ps_opportunities.filter(stage=PSStage.SOW_SIGNED).first()
    if signed is not None:
        raise ApplicationError(code="ps-committed",
                               message=f"The customer signed the SOW of '{signed}'; mark it Closed Won (or close it "
                                       "lost with a reason) before closing this deal.")


def _close_children(*, actor: Any, opportunity: Opportunity) -> None:
    """The parent is dead: its open PS children close as lost with it (the deal's own stage says why)."""
    label = Stage(opportunity.stage).label
    for ps in opportunity.ps_opportunities.filter(stage__in=PS_OPEN_STAGES).order_by("pk"):
        ps.mark_closed_lost()
        ps.loss_reason = LossReason.OTHER
        ps.loss_note = f"The parent deal was closed as {label}."
        ps.closed_at = timezone.now()
        save_transition(ps)
        record(actor=actor, opportunity=opportunity, subject=ps, verb="ps_opportunity.lost",
               message=f"PS opportunity closed as lost with its parent deal ({label})",
               data={"reason": LossReason.OTHER, "parent_stage": opportunity.stage})


def ps_opportunity_create(*, user: Any, parent: Opportunity, name: str, ps_amount: Any,
                          currency: str | None = None) -> PSOpportunity:
    """Step 4: the SAL creates the child PS opportunity; step 5: with its PS amount, the engagement's initial value."""
    require(user, "crm.create_ps_opportunity", parent,
            message="Only the deal's sales rep (or their manager) creates its PS opportunity.")
    currency = currency or parent.currency
    if currency != parent.currency:
        raise ApplicationError(code="currency-mismatch",
                               message=f"A PS opportunity uses its parent's currency ({parent.currency}).",
                               field="currency")
    if not parent.is_open:
        raise ApplicationError(code="deal-closed", message="The parent opportunity is closed.")
    amount = parse_amount(ps_amount, currency, field="PS amount")
    with transaction.atomic():
        ps = PSOpportunity.objects.create(parent=parent, name=(name or "").strip() or f"PS for {parent.name}",
                                          owner=parent.owner, ps_amount=amount, currency=currency)
        record(actor=user, opportunity=parent, subject=ps, verb="ps_opportunity.created",
               message=f"{user} created PS opportunity '{ps.name}' with PS amount {currency} {amount:,}",
               data={"ps_amount": str(amount)})
    return ps


# The stages in which the rep may still set the PS amount by hand: before a quote goes to the customer. From then on
# it follows the quote with the customer, is frozen at the accepted quote's total and moves only by change orders.
AMOUNT_EDITABLE_STAGES = (PSStage.ROM_APPROVAL, PSStage.APPROVED)


def ps_opportunity_set_amount_check(*, user: Any, ps_opportunity: PSOpportunity) -> None:
    require(user, "crm.change_ps_opportunity", ps_opportunity,
            message="Only the deal's sales rep (or their manager) sets the PS amount.")
    if not ps_opportunity.is_open:
        raise ApplicationError(code="ps-closed", message="The PS opportunity is closed; its amount is final.")
    if ps_opportunity.stage not in AMOUNT_EDITABLE_STAGES:
        raise ApplicationError(code="ps-amount-committed",
                               message=f"The PS opportunity is {PSStage(ps_opportunity.stage).label}: its amount "
                                       "follows the quote with the customer and, once accepted, changes only by a "
                                       "change order or a new approved quote.")


def ps_opportunity_set_amount(*, user: Any, ps_opportunity: PSOpportunity, ps_amount: Any,
                              reason: str = "") -> PSOpportunity:
    """Step 5: the SAL enters or corrects the PS amount until a quote goes to the customer."""
    ps_opportunity_set_amount_check(user=user, ps_opportunity=ps_opportunity)
    amount = parse_amount(ps_amount, ps_opportunity.currency, field="PS amount")
    with transaction.atomic():
        _set_amount(actor=user, ps_opportunity=ps_opportunity, amount=amount, why=reason or "entered by the SAL")
    return ps_opportunity


def _set_amount(*, actor: Any, ps_opportunity: PSOpportunity, amount: Decimal, why: str) -> None:
    old = ps_opportunity.ps_amount
    PSOpportunity.objects.filter(pk=ps_opportunity.pk).update(ps_amount=amount)
    ps_opportunity.ps_amount = amount
    record(actor=actor, opportunity=ps_opportunity.parent, subject=ps_opportunity, verb="ps_opportunity.amount",
           message=f"PS amount {ps_opportunity.currency} {old:,} -> {amount:,} ({why})",
           data={"from": str(old), "to": str(amount)})


def ps_amount_follow(*, actor: Any, ps_opportunity: PSOpportunity, amount: Decimal, why: str) -> None:
    """The PS amount follows the approved ROM and then the accepted quote. Called inside those services."""
    if amount != ps_opportunity.ps_amount:
        _set_amount(actor=actor, ps_opportunity=ps_opportunity, amount=amount, why=why)


def ps_opportunity_close_lost_check(*, user: Any, ps_opportunity: PSOpportunity) -> None:
    require(user, "crm.change_ps_opportunity", ps_opportunity,
            message="Only the deal's sales rep (or their manager) closes the PS opportunity.")
    if not ps_opportunity.is_open:
        raise ApplicationError(code="ps-closed", message="The PS opportunity is closed already.")


def ps_opportunity_close_lost(*, user: Any, ps_opportunity: PSOpportunity, reason: str,
                              note: str = "") -> PSOpportunity:
    ps_opportunity_close_lost_check(user=user, ps_opportunity=ps_opportunity)
    if reason not in LossReason.values:
        raise ApplicationError(code="invalid-loss-reason",
                               message=f"Loss reason must be one of: {', '.join(LossReason.values)}.",
                               field="reason")
    with transaction.atomic():
        ps_opportunity.mark_closed_lost()
        ps_opportunity.loss_reason = reason
        ps_opportunity.loss_note = note
        ps_opportunity.closed_at = timezone.now()
        save_transition(ps_opportunity)
        record(actor=user, opportunity=ps_opportunity.parent, subject=ps_opportunity, verb="ps_opportunity.lost",
               message=f"{user} closed the PS opportunity as lost ({LossReason(reason).label})",
               data={"reason": reason, "note": note})
    return ps_opportunity


def ps_alive_check(ps_opportunity: PSOpportunity) -> None:
    """The engagement may move on: the PS opportunity is open and its parent deal is not lost, unqualified or a
    duplicate (a parent Closed Won keeps its PS children going)."""
    if not ps_opportunity.is_open:
        raise ApplicationError(code="ps-closed",
                               message=f"The PS opportunity is {PSStage(ps_opportunity.stage).label}.")
    parent = ps_opportunity.parent
    if parent.stage in DEAD_STAGES:
        raise ApplicationError(code="parent-closed",
                               message=f"The deal {parent} is {Stage(parent.stage).label}; its PS opportunity "
                                       "cannot move on.")


def ps_stage(*, actor: Any, ps_opportunity: PSOpportunity, transition: str, why: str) -> None:
    """Advance the PS opportunity's stage as the process moves on (called by later stages' services)."""
    ps_alive_check(ps_opportunity)
    before = ps_opportunity.stage
    move = getattr(ps_opportunity, transition)
    if not can_proceed(move):
        raise ApplicationError(code="ps-not-ready",
                               message=f"The PS opportunity is {PSStage(before).label}; this cannot happen now.")
    move()
    save_transition(ps_opportunity)
    record(actor=actor, opportunity=ps_opportunity.parent, subject=ps_opportunity, verb="ps_opportunity.stage",
           message=f"PS stage {PSStage(before).label} -> {PSStage(ps_opportunity.stage).label} ({why})",
           data={"from": before, "to": ps_opportunity.stage})


def opportunity_inactivity_check(*, opportunity_id: int, now: dt.datetime | None = None) -> str:
    """Warn the owner of a deal idle in 1-Discovery or 2-Scoping, then close it as lost, by segment.

    Activity is any timeline event on the deal's chain made by a person (system events do not count).
    Returns what it did: "warned", "closed", "waiting" or "not-applicable". Safe to run any number of times.
    """
    from psops.activity.models import TimelineEvent

    from .choices import INACTIVITY_DAYS

    now = now or timezone.now()
    with transaction.atomic():
        opp = Opportunity.objects.select_for_update().select_related("owner").filter(pk=opportunity_id).first()
        if opp is None or opp.stage not in INACTIVITY_STAGES:
            return "not-applicable"
        thread = thread_for(opp)
        last = (TimelineEvent.objects.filter(thread=thread).exclude(actor__isnull=True, actor_label="system")
                .order_by("-created_at").values_list("created_at", flat=True).first()) or opp.created_at
        last = max(last, opp.stage_changed_at)
        warn_days, close_days = INACTIVITY_DAYS[Segment(opp.segment)]
        idle = now - last
        if idle >= dt.timedelta(days=close_days):
            if opp.ps_opportunities.filter(stage=PSStage.SOW_SIGNED).exists():
                return "committed"  # a signed SOW is a contract: the deal is not closed behind it
            before = opp.stage
            opp.move_to(Stage.CLOSED_LOST)
            opp.stage_changed_at = now
            save_transition(opp)
            record(actor=None, opportunity=opp, subject=opp, verb="opportunity.auto_closed",
                   message=f"Closed as lost after {close_days} days without activity in {Stage(before).label}",
                   data={"from": before, "idle_days": idle.days})
            _close_children(actor=None, opportunity=opp)
            notify(recipients=[opp.owner], kind="inactivity-closed",
                   text=f"{opp} was closed as lost after {close_days} days without activity.", subject=opp)
            return "closed"
        warned_since = opp.inactivity_warned_at is not None and opp.inactivity_warned_at >= last
        if idle >= dt.timedelta(days=warn_days) and not warned_since:
            opp.inactivity_warned_at = now
            opp.save(update_fields=["inactivity_warned_at"])
            record(actor=None, opportunity=opp, subject=opp, verb="opportunity.inactivity_warning",
                   message=f"No activity for {idle.days} days; the deal closes as lost at day {close_days}")
            notify(recipients=[opp.owner], kind="inactivity-warning",
                   text=f"{opp} has had no activity for {idle.days} days; it closes as lost at day {close_days}.",
                   subject=opp)
            schedule_inactivity_check(opp, at=last + dt.timedelta(days=close_days))
            return "warned"
        due = last + dt.timedelta(days=warn_days if idle < dt.timedelta(days=warn_days) else close_days)
        schedule_inactivity_check(opp, at=due)
        return "waiting"
