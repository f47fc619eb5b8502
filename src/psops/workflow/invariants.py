"""The engagement chain's commitments, in one file.

Each invariant is a function over the database that returns what violates it (an empty list when the chain keeps
its promise). The services and the database guard these promises; this module states them once so that a test
(tests/test_chain_stateful.py plays random sequences of the real services and checks every invariant after every
step) and a page for the administrator (/integrity/) can see any that a bug, or an edit made by hand, has broken.

The promises:
  approved-value      what reaches the customer was approved at that value: a quote with the customer (or past it)
                      stays within the approved ROM version it was built on, and carries the approvals the policy
                      in force at its submission asks for its discount, terms and investment.
  rom-committed       a live quote stands on its ROM's approved version: the ROM was not revised under it.
  one-live-quote      at most one live quote (waiting for approval, approved, sent or accepted) per PS opportunity.
  ps-amount           once the customer accepts a quote, the PS amount is that quote's total plus the project's
                      change orders; nothing else moves it.
  rom-opens-nothing   a rejected ROM opened no PS opportunity; every PS opportunity comes from exactly one ROM.
  parent-alive        no PS opportunity is open under a parent deal closed lost, unqualified or a duplicate.
  signature-covers    a signed SOW's signature covers every term the customer saw (price, rate, terms, milestones,
                      scope), and the SOW still reads as it was signed.
  approved-rom-fixed  an approved ROM version reads as it did when it was approved.
  deadline            a customer's answer to a completion or sign-off request came before its deadline.
  won-once            a PS opportunity Closed Won has exactly one SOW project, whose value is the signed SOW's
                      price plus its change orders, and is never billed beyond that value.
  balances-kept       every invoice's paid-to-date and open balance, kept on its row by the services that move
                      money, equal what its payments, credit notes and approved write-offs say (`psops invariants
                      balances-kept` is the check to run after any import or hand edit).
  collections-kept    every collection case's outstanding amount and oldest due date, kept on its row by the
                      billing services, are what its project's issued invoices owe and their oldest due date.
  waiting-kept        every approval request's waiting roles, kept on its row by the approval services, are those
                      its unmet requirements still wait for while it is pending, and none once it is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from psops.approvals import policy as policy_rules
from psops.approvals.models import ApprovalRequest, roles_waited_for
from psops.billing.models import CollectionCase, Invoice
from psops.billing.selectors import balances_from_history, case_figures
from psops.crm.choices import PS_OPEN_STAGES, PSStage, Stage
from psops.crm.models import PSOpportunity
from psops.delivery.models import AcceptanceRequest, ChangeOrder, Project
from psops.estimating.models import Rom, RomVersion
from psops.sales.models import LIVE_QUOTE_STATES, Quote, Sow, SowSignature

ZERO = Decimal(0)
DEAD_PARENT_STAGES = (Stage.CLOSED_LOST, Stage.UNQUALIFIED, Stage.DUPLICATE)


@dataclass(frozen=True)
class Violation:
    invariant: str
    subject: str  # e.g. "quote 12"
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.subject}: {self.message}"


def _money(field: str) -> Coalesce:
    return Coalesce(Sum(field), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2))


def approved_value() -> Iterable[Violation]:
    """What reaches the customer was approved at that value: within the approved ROM, with the approvals
    the policy in force asked for."""
    committed = Quote.objects.filter(state__in=[Quote.State.APPROVED, Quote.State.SENT, Quote.State.ACCEPTED])
    for quote in committed.select_related("rom_version", "policy"):
        high = quote.rom_version.high
        if high is None or quote.total > high:
            yield Violation("approved-value", f"quote {quote.pk}",
                            f"total {quote.currency} {quote.total:,} is above the approved ROM's high value "
                            f"{high if high is None else f'{high:,}'}")
        rules = quote.policy.rules if quote.policy_id else None
        if rules is None:
            yield Violation("approved-value", f"quote {quote.pk}", "no policy version recorded for its approval")
            continue
        if policy_rules.requirements_for(rules, "quote", quote.facts()):
            approved = ApprovalRequest.objects.filter(
                kind="quote", subject_type=ContentType.objects.get_for_model(Quote), subject_id=quote.pk,
                state=ApprovalRequest.State.APPROVED)
            if not any(request.facts_cover(quote.facts()) for request in approved):
                yield Violation("approved-value", f"quote {quote.pk}",
                                "its discount, terms or investment need approvals it never got at these values")


def rom_committed() -> Iterable[Violation]:
    """A live quote stands on its ROM's approved version; the ROM was not revised under it."""
    live = Quote.objects.filter(state__in=LIVE_QUOTE_STATES).select_related("rom_version__rom")
    for quote in live:
        rom = quote.rom_version.rom
        if rom.status != Rom.Status.APPROVED or rom.approved_version_id != quote.rom_version_id:
            yield Violation("rom-committed", f"quote {quote.pk}",
                            f"{quote.get_state_display().lower()} on {rom} v{quote.rom_version.number}, but the ROM "
                            f"is {rom.get_status_display().lower()}")


def one_live_quote() -> Iterable[Violation]:
    """At most one live quote (waiting for approval, approved, sent or accepted) per PS opportunity."""
    crowded = (Quote.objects.filter(state__in=LIVE_QUOTE_STATES).values("ps_opportunity")
               .annotate(n=Count("id")).filter(n__gt=1))
    for row in crowded:
        yield Violation("one-live-quote", f"PS opportunity {row['ps_opportunity']}", f"{row['n']} live quotes")


def ps_amount() -> Iterable[Violation]:
    """The PS amount follows the quote with the customer; once accepted it moves only by change orders."""
    accepted = Quote.objects.filter(ps_opportunity=OuterRef("pk"), state=Quote.State.ACCEPTED)
    changes = (ChangeOrder.objects.filter(project__ps_opportunity=OuterRef("pk")).values("project__ps_opportunity")
               .annotate(t=Sum("amount")).values("t"))
    rows = (PSOpportunity.objects.annotate(quoted=Subquery(accepted.values("total")[:1]),
                                           changes=Coalesce(Subquery(changes), Value(ZERO),
                                                            output_field=DecimalField(max_digits=14,
                                                                                      decimal_places=2)))
            .filter(quoted__isnull=False))
    for ps in rows:
        expected = ps.quoted + ps.changes
        if ps.ps_amount != expected:
            yield Violation("ps-amount", f"PS opportunity {ps.pk}",
                            f"PS amount {ps.ps_amount:,} but the accepted quote and change orders make {expected:,}")


def rom_opens_nothing() -> Iterable[Violation]:
    """Every PS opportunity comes from exactly one ROM, and a rejected ROM opened none."""
    for ps in PSOpportunity.objects.annotate(n=Count("roms")).exclude(n=1):
        yield Violation("rom-opens-nothing", f"PS opportunity {ps.pk}", f"comes from {ps.n} ROMs, not one")
    version_ct = ContentType.objects.get_for_model(RomVersion)
    rejected_at = (ApprovalRequest.objects.filter(kind="rom", subject_type=version_ct,
                                                  subject_id__in=RomVersion.objects.filter(rom=OuterRef(OuterRef("pk")))
                                                  .values("pk"), state=ApprovalRequest.State.REJECTED)
                   .order_by("-decided_at").values("decided_at")[:1])
    rejected = (Rom.objects.filter(status=Rom.Status.REJECTED, ps_opportunity__isnull=False)
                .annotate(rejected_at=Subquery(rejected_at)).select_related("ps_opportunity"))
    for rom in rejected:
        if rom.rejected_at is not None and rom.ps_opportunity.created_at > rom.rejected_at:
            yield Violation("rom-opens-nothing", f"PS opportunity {rom.ps_opportunity_id}",
                            f"opened from {rom} after it was rejected")


def parent_alive() -> Iterable[Violation]:
    """No PS opportunity is open under a deal closed lost, unqualified or a duplicate."""
    orphans = PSOpportunity.objects.filter(stage__in=PS_OPEN_STAGES, parent__stage__in=DEAD_PARENT_STAGES)
    for ps in orphans.select_related("parent"):
        yield Violation("parent-alive", f"PS opportunity {ps.pk}",
                        f"still {ps.get_stage_display()} under a deal that is {ps.parent.get_stage_display()}")


def signature_covers() -> Iterable[Violation]:
    """A signature covers every term the customer saw, and the signed SOW still reads as signed."""
    for signature in SowSignature.objects.select_related("sow"):
        sow = signature.sow
        missing = sow.terms_not_covered(signature)
        if missing:
            yield Violation("signature-covers", f"SOW {sow.pk}",
                            f"the signature does not cover: {', '.join(missing)}")
        if sow.altered_since_signed(signature):
            yield Violation("signature-covers", f"SOW {sow.pk}", "altered after the customer signed it")
    for sow in Sow.objects.filter(state=Sow.State.SIGNED, signature__isnull=True):
        yield Violation("signature-covers", f"SOW {sow.pk}", "signed without a signature record")


def approved_rom_fixed() -> Iterable[Violation]:
    """An approved ROM version reads as it did when it was approved."""
    version_ct = ContentType.objects.get_for_model(RomVersion)
    approved = ApprovalRequest.objects.filter(kind="rom", subject_type=version_ct,
                                              state=ApprovalRequest.State.APPROVED)
    versions = {v.pk: v for v in RomVersion.objects.filter(pk__in=approved.values("subject_id"))}
    for request in approved:
        version = versions.get(request.subject_id)
        if version is None:
            yield Violation("approved-rom-fixed", f"approval {request.pk}", "its ROM version is gone")
        elif (str(version.high), str(version.low)) != (request.facts.get("high"), request.facts.get("low")):
            yield Violation("approved-rom-fixed", f"ROM version {version.pk}",
                            f"approved at {request.facts.get('low')} - {request.facts.get('high')}, now reads "
                            f"{version.low} - {version.high}")


def deadline() -> Iterable[Violation]:
    """The customer's answers to completion and sign-off requests came before their deadlines."""
    late = AcceptanceRequest.objects.filter(
        state__in=[AcceptanceRequest.State.ACCEPTED, AcceptanceRequest.State.REJECTED,
                   AcceptanceRequest.State.REPLIED], answered_at__gte=F("passive_at"))
    for request in late:
        yield Violation("deadline", f"acceptance request {request.pk}",
                        f"answered ({request.get_state_display().lower()}) after its deadline "
                        f"{request.passive_at:%Y-%m-%d %H:%M}")


def won_once() -> Iterable[Violation]:
    """Closed Won made exactly one project, on a signed SOW, never billed beyond its value."""
    won = PSOpportunity.objects.filter(stage=PSStage.CLOSED_WON).annotate(n=Count("projects"))
    for ps in won.exclude(n=1):
        yield Violation("won-once", f"PS opportunity {ps.pk}", f"Closed Won with {ps.n} projects")
    billed = (Invoice.objects.filter(project=OuterRef("pk")).exclude(state=Invoice.State.VOID)
              .values("project").annotate(t=Sum("amount")).values("t"))
    changes = ChangeOrder.objects.filter(project=OuterRef("pk")).values("project").annotate(t=Sum("amount"))
    money: DecimalField = DecimalField(max_digits=14, decimal_places=2)
    projects = (Project.objects.select_related("sow")
                .annotate(billed=Coalesce(Subquery(billed), Value(ZERO), output_field=money),
                          changes=Coalesce(Subquery(changes.values("t")), Value(ZERO), output_field=money)))
    for project in projects:
        if project.sow.state != Sow.State.SIGNED:
            yield Violation("won-once", f"project {project.pk}", "its SOW is not signed")
        value = project.sow.price + project.changes
        if project.billed > value:
            yield Violation("won-once", f"project {project.pk}", f"billed {project.billed:,} above its value {value:,}")


def balances_kept() -> Iterable[Violation]:
    """The maintained money columns agree with the money history, to the cent (compared in SQL)."""
    cent = Decimal("0.005")
    drift = (balances_from_history(Invoice.objects.all())
             .annotate(paid_off=F("paid_to_date") - F("paid_from_history"),
                       owed_off=F("open_balance") - F("balance_from_history"))
             .filter(Q(paid_off__gt=cent) | Q(paid_off__lt=-cent) | Q(owed_off__gt=cent) | Q(owed_off__lt=-cent))
             .order_by("pk"))
    for invoice in drift:
        yield Violation("balances-kept", f"invoice {invoice.pk}",
                        f"kept paid {invoice.paid_to_date:,} and open {invoice.open_balance:,}; its history says "
                        f"paid {invoice.paid_from_history:,} and open "  # type: ignore[attr-defined]
                        f"{invoice.balance_from_history:,}")  # type: ignore[attr-defined]


def collections_kept() -> Iterable[Violation]:
    """The collections queue and list read the figures kept on each case: they agree with its invoices (in SQL)."""
    figures = case_figures()
    drift = (CollectionCase.objects.annotate(owed_now=figures["outstanding"], due_now=figures["oldest_due"])
             .filter(Q(outstanding__lt=F("owed_now")) | Q(outstanding__gt=F("owed_now"))
                     | Q(oldest_due__lt=F("due_now")) | Q(oldest_due__gt=F("due_now"))
                     | Q(oldest_due__isnull=True, due_now__isnull=False)
                     | Q(oldest_due__isnull=False, due_now__isnull=True))
             .order_by("pk"))
    for case in drift:
        yield Violation("collections-kept", f"collection case {case.pk}",
                        f"keeps {case.outstanding:,} outstanding, oldest due {case.oldest_due}; its invoices say "
                        f"{case.owed_now:,.2f}, oldest due {case.due_now}")  # type: ignore[attr-defined]


def waiting_kept() -> Iterable[Violation]:
    """The approvers' queues read the roles kept on each request: they agree with its requirements."""
    decided = (ApprovalRequest.objects.exclude(state=ApprovalRequest.State.PENDING).exclude(waiting_roles=[])
               .order_by("pk").values_list("pk", "state", "waiting_roles"))
    for pk, state, kept in decided:
        yield Violation("waiting-kept", f"approval request {pk}", f"is {state} but still waits for {', '.join(kept)}")
    pending = (ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING).prefetch_related("requirements")
               .order_by("pk"))
    for request in pending.iterator(chunk_size=2000):
        wanted = roles_waited_for(request.requirements.all())
        if request.waiting_roles != wanted:
            yield Violation("waiting-kept", f"approval request {request.pk}",
                            f"keeps {request.waiting_roles} waiting; its requirements wait for {wanted}")


INVARIANTS: dict[str, Callable[[], Iterable[Violation]]] = {
    "approved-value": approved_value,
    "rom-committed": rom_committed,
    "one-live-quote": one_live_quote,
    "ps-amount": ps_amount,
    "rom-opens-nothing": rom_opens_nothing,
    "parent-alive": parent_alive,
    "signature-covers": signature_covers,
    "approved-rom-fixed": approved_rom_fixed,
    "deadline": deadline,
    "won-once": won_once,
    "balances-kept": balances_kept,
    "collections-kept": collections_kept,
    "waiting-kept": waiting_kept,
}


def violations(names: Iterable[str] | None = None) -> list[Violation]:
    """Every broken promise, invariant by invariant (all of them unless `names` picks some)."""
    found: list[Violation] = []
    for name in names or INVARIANTS:
        found.extend(INVARIANTS[name]())
    return found


SHOWN = 200  # violations listed per invariant at most; the count is always exact


def integrity_check(*, user: Any) -> None:
    """Who reads the integrity report (the page and the API): an administrator."""
    from psops.accounts.rules import is_administrator
    from psops.core.errors import ApplicationError

    if not is_administrator(user):
        raise ApplicationError(code="forbidden", message="The integrity check is the administrator's page.")


def integrity_report() -> list[dict[str, Any]]:
    """Each invariant: its name, what it promises, how many records break it, and the first SHOWN of them."""
    rows = []
    for name, check in INVARIANTS.items():
        found = list(check())
        rows.append({"name": name, "doc": (check.__doc__ or "").strip(), "count": len(found), "shown": found[:SHOWN]})
    return rows
