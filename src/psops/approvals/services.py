"""Approval requests under the versioned policy (steps 3, 6 and 7), and the ROM's way through them.

The generic part (`request_open`, `request_decide`) serves ROMs here and quotes in sales; the subject-specific
services wrap it and move their own record.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from psops.accounts.roles import ROLES, roles_of
from psops.activity.models import Message
from psops.activity.services import message_post, notify, thread_for
from psops.core.business_days import SERVICE_LEVEL_DAYS
from psops.core.errors import ApplicationError
from psops.core.permissions import require
from psops.crm.models import Opportunity
from psops.crm.services import ps_amount_follow, ps_stage, record, save_transition
from psops.documents import services as documents
from psops.documents.models import Kind
from psops.estimating.models import Rom

from . import policy as policy_rules
from .models import ApprovalPolicy, ApprovalRequest, ApprovalRequirement, Decision, roles_waited_for
from .selectors import decidable_by


def policy_active() -> ApprovalPolicy:
    found = ApprovalPolicy.objects.filter(is_active=True).first()
    if found is None:
        raise ApplicationError(code="no-policy", message="No approval policy is active; an administrator must "
                                                         "publish one.")
    return found


def policy_publish(*, user: Any, rules: Any, note: str = "") -> ApprovalPolicy:
    """A new policy version becomes the active one; earlier requests keep the version that judged them."""
    require(user, "approvals.publish_policy")
    checked = policy_rules.validate(rules)
    with transaction.atomic():
        latest = ApprovalPolicy.objects.select_for_update().order_by("-version").first()
        ApprovalPolicy.objects.filter(is_active=True).update(is_active=False)
        new = ApprovalPolicy.objects.create(version=(latest.version + 1) if latest else 1, rules=checked,
                                            is_active=True, note=note)
        from psops.activity.services import event_record

        event_record(actor=user, subject=new, verb="policy.published",
                     message=f"{user} published approval policy v{new.version}")
    return new


def approvers_for(roles: list[str]) -> models.QuerySet:
    return get_user_model().objects.filter(is_active=True, groups__name__in=roles).distinct()


def request_open(*, user: Any, kind: str, subject: models.Model, opportunity: Opportunity, facts: dict,
                 title: str, author: Any) -> ApprovalRequest | None:
    """Open a request for what the active policy requires of this record; None when it requires nothing."""
    active = policy_active()
    needed = policy_rules.requirements_for(active.rules, kind, facts)
    if not needed:
        return None
    ct = ContentType.objects.get_for_model(subject)
    if ApprovalRequest.objects.filter(subject_type=ct, subject_id=subject.pk,
                                      state=ApprovalRequest.State.PENDING).exists():
        raise ApplicationError(code="already-pending", message="An approval request is already waiting for this.")
    requirements = [ApprovalRequirement(code=r.code, label=r.label, approvers=list(r.approvers), mode=r.mode)
                    for r in needed]
    request = ApprovalRequest.objects.create(kind=kind, subject_type=ct, subject_id=subject.pk, policy=active,
                                             facts=facts, submitted_by=user, author=author, title=title,
                                             waiting_roles=roles_waited_for(requirements))
    for requirement in requirements:
        requirement.request = request
    ApprovalRequirement.objects.bulk_create(requirements)
    record(actor=user, opportunity=opportunity, subject=request, verb="approval.requested",
           message=f"{user} asked for approval ({', '.join(r.label for r in needed)}) under policy "
                   f"v{active.version}", data={"policy": active.version, "requirements": [r.code for r in needed]})
    roles = sorted({role for r in needed for role in r.approvers})
    notify(recipients=[u for u in approvers_for(roles) if u.pk not in (user.pk, author.pk)], kind="approval-asked",
           text=f"Approval asked: {title}", subject=request)
    from .tasks import schedule_service_level_check

    schedule_service_level_check(request)
    return request


def request_withdraw(*, subject: models.Model) -> None:
    """The subject was withdrawn: its pending request closes as withdrawn (nobody is left to decide it)."""
    ct = ContentType.objects.get_for_model(subject)
    for request in ApprovalRequest.objects.filter(subject_type=ct, subject_id=subject.pk,
                                                  state=ApprovalRequest.State.PENDING):
        request.mark_withdrawn()
        request.decided_at = timezone.now()
        request.waiting_roles = []
        save_transition(request)


def _eligible(user: Any, requirement: ApprovalRequirement) -> list[str]:
    """The roles in which `user` may still speak for this requirement."""
    if requirement.satisfied:
        return []
    mine = roles_of(user) if not user.is_superuser else frozenset(ROLES)
    return [r for r in requirement.approvers if r in mine and r not in requirement.approved_roles]


def request_decide(*, user: Any, request: ApprovalRequest, outcome: str, comment: str,
                   opportunity: Opportunity) -> ApprovalRequest:
    """Record one approver's decision and settle the request.

    Rules: only holders of a role the pending requirements name may decide; nobody decides their own request
    (submitter or author); any rejection rejects, any needs-discovery sends it back, and the request is approved
    when every requirement is met ("any": one approver of the listed roles; "all": one per role, different people).
    Must run inside the caller's transaction.
    """
    if outcome not in Decision.Outcome.values:
        raise ApplicationError(code="invalid-outcome",
                               message=f"A decision is one of: {', '.join(Decision.Outcome.values)}.", field="outcome")
    # Lock the request so that two approvers acting at once are judged one after the other.
    locked = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
    request_decide_check(user=user, request=locked)
    requirements = list(locked.requirements.all())
    speaks_for = [(req, eligible[0]) for req in requirements if (eligible := _eligible(user, req))]
    if outcome != Decision.Outcome.APPROVE and not comment.strip():
        raise ApplicationError(code="comment-required",
                               message="Say why: a rejection or a discovery request needs a comment.",
                               field="comment")
    Decision.objects.create(request=locked, approver=user, outcome=outcome, comment=comment,
                            requirements=[req.code for req, _ in speaks_for])
    if outcome == Decision.Outcome.APPROVE:
        for req, as_role in speaks_for:
            req.approved_roles = [*req.approved_roles, as_role]
            req.satisfied = req.mode == "any" or set(req.approvers) <= set(req.approved_roles)
            req.save(update_fields=["approved_roles", "satisfied"])
        if all(r.satisfied for r in requirements):
            locked.mark_approved()
    elif outcome == Decision.Outcome.NEEDS_DISCOVERY:
        locked.mark_needs_discovery()
    else:
        locked.mark_rejected()
    if locked.state != ApprovalRequest.State.PENDING:
        locked.decided_at = timezone.now()
    locked.waiting_roles = roles_waited_for(requirements) if locked.state == ApprovalRequest.State.PENDING else []
    save_transition(locked)
    record(actor=user, opportunity=opportunity, subject=locked, verb=f"approval.{outcome}",
           message=f"{user} decided '{Decision.Outcome(outcome).label}'"
                   f" for {', '.join(req.label for req, _ in speaks_for)}" + (f": {comment}" if comment else ""),
           data={"outcome": outcome, "requirements": [req.code for req, _ in speaks_for]})
    if locked.state != ApprovalRequest.State.PENDING:
        notify(recipients=[locked.submitted_by, locked.author], kind="approval-decided",
               text=f"{locked.title}: {locked.get_state_display()}", subject=locked)
    request.refresh_from_db()
    return locked


# --- The ROM's way through approval (steps 3, 6, 7) ---------------------------------------------------------


def rom_submit_check(*, user: Any, rom: Rom) -> None:
    require(user, "crm.submit_rom", rom.opportunity,
            message="Only the deal's sales rep (or their manager) sends its ROM for approval.")
    if not rom.opportunity.is_open and rom.opportunity.stage != "closed-won":
        raise ApplicationError(code="deal-closed", message=f"The deal is {rom.opportunity.get_stage_display()}.")
    if rom.status != Rom.Status.DRAFT:
        raise ApplicationError(code="rom-not-draft", message=f"The ROM is {rom.get_status_display().lower()}; "
                                                             "only a draft is submitted.")
    version = rom.current
    if version is None or version.high is None:
        raise ApplicationError(code="rom-unpriced",
                               message="This ROM has no price: it needs the engagement manager's estimate "
                                       "(a PS manager enters it on the ROM) before it is submitted.")


def rom_submit(*, user: Any, rom: Rom) -> ApprovalRequest | None:
    """Step 3: the SAL sends the ROM's current version to the approvers the policy names. The version's author
    (the SA, or the engagement manager for a manual estimate) may not approve it."""
    rom_submit_check(user=user, rom=rom)
    opportunity = rom.opportunity
    version = rom.current
    assert version is not None  # rom_submit_check refuses a ROM without a priced version
    with transaction.atomic():
        rom.submit()
        save_transition(rom)
        request = request_open(user=user, kind="rom", subject=version, opportunity=opportunity,
                               facts={"high": str(version.high), "low": str(version.low)},
                               title=f"{rom} v{version.number} for {opportunity}", author=version.created_by)
        if request is None:  # a policy that asks nothing of ROMs approves them as submitted
            _rom_approved(actor=user, rom=rom)
    return request


def _rom_approved(*, actor: Any, rom: Rom) -> None:
    version = rom.current
    assert version is not None and version.high is not None  # rom_submit refuses a ROM without a price
    rom.approve()
    rom.approved_version = version
    save_transition(rom)
    record(actor=actor, opportunity=rom.opportunity, subject=rom, verb="rom.approved",
           message=f"ROM approved: {version.currency} {version.low or 0:,} to {version.high:,}")
    # The ROM summary of the approved version, for the sales rep to share: made by the worker.
    documents.documents_queue(user=actor, records=[rom], kind=Kind.ROM_SUMMARY)
    ps = rom.ps_opportunity
    if ps is not None and ps.is_open:
        ps_amount_follow(actor=actor, ps_opportunity=ps, amount=version.high, why="approved ROM")
        if ps.stage == "rom-approval":
            ps_stage(actor=actor, ps_opportunity=ps, transition="mark_rom_approved", why="ROM approved")


def rom_decide(*, user: Any, request: ApprovalRequest, outcome: str, comment: str = "",
               questions: str = "") -> ApprovalRequest:
    """Step 6: the PS manager or Dir. CS approves, asks for discovery (questions go to the thread: step 7) or
    rejects."""
    if request.kind != "rom":
        raise ApplicationError(code="wrong-kind", message="This is not a ROM approval request.")
    version = request.subject
    if version is None:
        raise ApplicationError(code="subject-not-found", message="The ROM version of this request is gone.")
    rom = version.rom
    opportunity = rom.opportunity
    if outcome == Decision.Outcome.NEEDS_DISCOVERY and not (questions or comment).strip():
        raise ApplicationError(code="questions-required", message="Needs discovery: write the questions to answer.",
                               field="questions")
    with transaction.atomic():
        decided = request_decide(user=user, request=request, outcome=outcome, comment=comment or questions,
                                 opportunity=opportunity)
        rom = Rom.objects.select_related("current", "ps_opportunity__parent").get(pk=rom.pk)
        if decided.state == ApprovalRequest.State.APPROVED:
            _rom_approved(actor=user, rom=rom)
        elif decided.state == ApprovalRequest.State.NEEDS_DISCOVERY:
            rom.ask_discovery()
            save_transition(rom)
            message_post(user=user, thread=thread_for(opportunity), kind=Message.Kind.QUESTION,
                         body=(questions or comment) + f" @{opportunity.owner.username}", subject=version)
        elif decided.state == ApprovalRequest.State.REJECTED:
            rom.reject()
            save_transition(rom)
    return decided


def request_decide_check(*, user: Any, request: ApprovalRequest) -> None:
    """Whether `user` may decide this request now: it is pending, not their own, not decided by them already, and
    waiting for a role they hold. The same rule in SQL is `selectors.decidable_by` (the work queues and
    `may_decide`); tests/test_decidable.py holds the two to the same answers."""
    if request.state != ApprovalRequest.State.PENDING:
        raise ApplicationError(code="already-decided",
                               message=f"This request is already {request.get_state_display().lower()}.")
    if user.pk in (request.submitted_by_id, request.author_id):
        raise ApplicationError(code="segregation-of-duties", message="Nobody approves their own request.")
    if any(d.approver_id == user.pk for d in request.decisions.all()):
        raise ApplicationError(code="already-decided", message=f"{user} has already decided this request.")
    if not any(_eligible(user, r) for r in request.requirements.all()):
        raise ApplicationError(code="forbidden", message=f"{user} is not an approver this request is waiting for.")


def may_decide(user: Any, request: ApprovalRequest) -> bool:
    """Whether `user` may decide this request now, as a yes or no: asked of `selectors.decidable_by`, the rule the
    work queues count and page in SQL, so a list and this answer can never differ (one query, read from the
    database as it stands)."""
    return ApprovalRequest.objects.filter(decidable_by(user), pk=request.pk).exists()


def approval_service_level_check(*, request_id: int, now: Any = None) -> bool:
    """Timer: a request still pending after 3 business days breaches the service level; the approvers it waits for,
    the submitter and the PS manager are told once. Returns whether it told anyone."""
    from .tasks import service_level_deadline

    now = now or timezone.now()
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.state != ApprovalRequest.State.PENDING:
            return False
        if now < service_level_deadline(request.submitted_at):
            return False
        if request.facts.get("service_level_breached"):
            return False
        request.facts = {**request.facts, "service_level_breached": now.isoformat()}
        request.save(update_fields=["facts"])
        waiting = sorted({role for r in request.requirements.all() if not r.satisfied for role in r.approvers})
        people = [*approvers_for([*waiting, "ps_manager"]), request.submitted_by]
        notify(recipients=people, kind="service-level", subject=request,
               text=f"Service level breached: '{request.title}' has waited more than {SERVICE_LEVEL_DAYS} business "
                    "days for a decision.")
        from psops.activity.services import event_record

        event_record(actor=None, subject=request, verb="approval.service_level_breached",
                     message="Waiting more than 3 business days: the service level is breached")
    return True
