"""A model-based test of the engagement chain: random sequences of the real services, by random people (and the
customer), with the clock moving and timers firing early, late or never, over a few engagements at once. After
every step every invariant of psops.workflow.invariants must hold, and a refused act must change nothing.

Budget: PSOPS_STATEFUL_EXAMPLES sequences (default 30, about a minute; .ci/run sets 120 on each database) of up to
PSOPS_STATEFUL_STEPS steps (default 60). The budget, and how many of each act were done rather than refused, are
printed with the result.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from psops.activity.models import TimelineEvent
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project
from psops.estimating import services as estimating
from psops.estimating.models import Rom, RomVersion
from psops.sales import services as sales
from psops.sales.models import Quote, Sow
from psops.workflow import invariants
from psops.workflow import services as workflow

from .factories import customer, make_deal, make_staff

EXAMPLES = int(os.environ.get("PSOPS_STATEFUL_EXAMPLES", "30"))
STEPS = int(os.environ.get("PSOPS_STATEFUL_STEPS", "60"))
# For exploring: names of invariants (or "dead-end") not to check, comma-separated. Never set in CI.
IGNORE = frozenset(filter(None, os.environ.get("PSOPS_STATEFUL_IGNORE", "").split(",")))

STAFF = ["sal", "sal2", "sa", "tam", "psmanager", "dircs", "pse", "pse2", "finance", "admin", "ta", "dirps",
         "vpsales", "vpgs"]


def someone(*likely: str):
    """Mostly the people whose act it is, sometimes anyone (who must then be refused harmlessly)."""
    return st.sampled_from([*(likely * len(STAFF)), *STAFF])


ENGAGEMENT = st.integers(min_value=0, max_value=2)
USERS = st.sampled_from([100, 800, 2500, 4000])  # 4,000 users is outside the migration matrix: no price
DISCOUNT = st.sampled_from(["0", "0", "10", "100"])
TERMS = st.sampled_from(["full-on-signature", "full-on-signature", "50-50", "milestones",
                         "time-and-materials", "on-completion"])
ITEMS = st.sampled_from([None, None, [("GL-CICD-R", 1)], [("GL-ENGR-12", 2)]])


TALLY: Counter = Counter()  # acts done (not refused) across the whole run, printed at the end


class ChainMachine(RuleBasedStateMachine):
    people: dict = {}

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.engagements: list[dict] = []
        self.dead_ends: list[str] = []

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ----------------------------------------------------------------------------------------------

    def eng(self, i: int) -> dict:
        return self.engagements[i % len(self.engagements)]

    def act(self, run, *, must_succeed: str = ""):
        """Run one act. A refusal must name a code and change nothing; `must_succeed` names a promise that the
        act is possible now (a dead end otherwise)."""
        events = TimelineEvent.objects.count()
        label = getattr(run, "__qualname__", "act").split(".<locals>")[0].split(".")[-1]
        try:
            with transaction.atomic():
                result = run()
            event(f"{label}: done")
            TALLY[label] += 1
            return result
        except ApplicationError as error:
            event(f"{label}: refused")
            assert error.code and error.message.strip()
            assert TimelineEvent.objects.count() == events, f"refused ({error.code}) but wrote to the timeline"
            if must_succeed and "dead-end" not in IGNORE:
                raise AssertionError(f"dead end: {must_succeed}: refused with {error.code}: {error.message}") from None
            return None

    def rom(self, e) -> Rom:
        return Rom.objects.select_related("current", "approved_version", "ps_opportunity__parent",
                                          "opportunity").get(pk=e["rom_id"])

    def ps(self, e):
        rom = self.rom(e)
        return rom.ps_opportunity

    def quotes(self, e):
        ps = self.ps(e)
        return list(ps.quotes.order_by("id")) if ps else []

    def sow(self, e):
        ps = self.ps(e)
        return ps.sows.select_related("quote").order_by("-id").first() if ps else None

    def project(self, e):
        ps = self.ps(e)
        return ps.projects.first() if ps else None

    # --- set-up -----------------------------------------------------------------------------------------------

    @initialize(users=st.lists(USERS, min_size=3, max_size=3))
    def deals(self, users):
        for n, count in enumerate(users):
            account, contact, opp = make_deal(self.people, name=f"Customer {n} Ltd")
            rom = estimating.rom_create(user=self.people["sa"], opportunity=opp, template="sm-to-saas",
                                        answers={"users": count, "projects": 500, "large_repos": 0})
            # A copy of the ROM as a page showed it, never refreshed: acting on it models a double post or a race.
            self.engagements.append({"opp_id": opp.pk, "rom_id": rom.pk, "contact": contact, "stale_rom": rom})

    # --- The next step of the process, by the person whose step it is ---------------------------------------------
    # Random acts alone rarely walk a whole engagement; this rule moves one forward so that the others (wrong people,
    # stale pages, timers, the customer, edits by hand) meet every stage.

    def decide_by_eligible(self, request, decide, names):
        for name in names:
            if approvals.may_decide(self.people[name], request):
                self.act(lambda name=name: decide(user=self.people[name], request=request, outcome="approve"))
                return

    @rule(i=ENGAGEMENT, discount=DISCOUNT, terms=TERMS, steps=st.integers(1, 6))
    def advance(self, i, discount, terms, steps):
        for _ in range(steps):
            self.advance_one(i, discount, terms)

    def advance_one(self, i, discount, terms):
        e = self.eng(i)
        p = self.people
        rom = self.rom(e)
        ps = rom.ps_opportunity
        if rom.status == Rom.Status.DRAFT and rom.current.high is None:
            service = getattr(estimating, "rom_estimate_manual", None)
            if service is not None:
                self.act(lambda: service(user=p["psmanager"], rom=rom, low="30000", high="45000", note="Sized by EM"))
        elif ps is None:
            self.act(lambda: estimating.rom_open_ps_opportunity(user=p["sal"], rom=rom))
        elif rom.status == Rom.Status.DRAFT:
            self.act(lambda: approvals.rom_submit(user=p["sal"], rom=rom))
        elif rom.status in (Rom.Status.NEEDS_DISCOVERY, Rom.Status.REJECTED):
            self.act(lambda: estimating.rom_revise(user=p["sa"], rom=rom,
                                                   answers={"users": 100, "projects": 500, "large_repos": 0}))
        elif rom.status == Rom.Status.SUBMITTED:
            request = ApprovalRequest.objects.filter(kind="rom", state="pending",
                                                     subject_id=rom.current_id).first()
            if request is not None:
                self.decide_by_eligible(request, approvals.rom_decide, ["psmanager", "dircs", "ta"])
        elif ps.is_open:
            self.advance_sale(e, ps, discount, terms)
        else:
            self.advance_delivery(e)

    def advance_sale(self, e, ps, discount, terms):
        p = self.people
        live = ps.quotes.filter(state__in=["pending-approval", "approved", "sent", "accepted"]).first()
        draft = ps.quotes.filter(state="draft").order_by("-id").first()
        if live is None and draft is None:
            self.act(lambda: sales.quote_create(user=p["sal"], ps_opportunity=ps, discount_percent=discount,
                                                billing_terms=terms, investment=discount == "100",
                                                valid_until=timezone.localdate() + dt.timedelta(days=20)))
        elif live is None:
            self.act(lambda: sales.quote_submit(user=p["sal"], quote=draft))
        elif live.state == "pending-approval":
            request = ApprovalRequest.objects.filter(kind="quote", state="pending", subject_id=live.pk).first()
            if request is not None:
                self.decide_by_eligible(request, sales.quote_decide, ["dircs", "dirps", "vpsales", "vpgs"])
        elif live.state == "approved":
            self.act(lambda: sales.quote_send(user=p["sal"], quote=live, contact=e["contact"]))
        elif live.state == "sent":
            self.act(lambda: sales.quote_accept(customer=customer(e["contact"]), quote=live))
        else:
            sow = self.sow(e)
            if sow is None:
                self.act(lambda: sales.sow_create(user=p["pse"], quote=live))
            elif sow.state == Sow.State.DRAFT:
                half = (sow.price / 2).quantize(Decimal("0.01"))
                if sow.billing_terms == "milestones" and half > 0:
                    self.act(lambda: sales.sow_update(user=p["pse"], sow=sow,
                                                      milestones=[("Plan", half), ("Deliver", sow.price - half)]))
                if sow.billing_terms == "time-and-materials":
                    self.act(lambda: sales.sow_update(user=p["pse"], sow=sow, hourly_rate="180"))
                self.act(lambda: sales.sow_submit_review(user=p["pse"], sow=Sow.objects.get(pk=sow.pk)))
            elif sow.state == Sow.State.IN_REVIEW:
                reviewer = "psmanager" if sow.billing_terms == "full-on-signature" else "dirps"
                self.act(lambda: sales.sow_review(user=p[reviewer], sow=sow, approve=True))
            elif sow.state == Sow.State.APPROVED:
                self.act(lambda: sales.sow_send(user=p["pse"], sow=sow, contact=e["contact"]))
            elif sow.state == Sow.State.SENT:
                self.act(lambda: sales.sow_sign(customer=customer(e["contact"]), sow=sow, name="Casey", title="CTO",
                                                content_hash=sow.content_hash()))
            elif ps.stage == "sow-signed":
                self.close_won(self.engagements.index(e), "sal")

    def advance_delivery(self, e):
        project = self.project(e)
        if project is None:
            return
        if project.state == Project.State.CREATED:
            self.deliver(self.engagements.index(e))
        elif project.state == Project.State.IN_DELIVERY:
            self.ask_completion(self.engagements.index(e))
        elif project.state == Project.State.CLOSURE:
            self.completion_answer(self.engagements.index(e), True)

    # --- ROM and approval (steps 2-7) ---------------------------------------------------------------------------

    @rule(i=ENGAGEMENT, who=someone("sal"))
    def rom_submit(self, i, who):
        e = self.eng(i)
        self.act(lambda: approvals.rom_submit(user=self.people[who], rom=self.rom(e)))

    @rule(i=ENGAGEMENT, who=someone("psmanager", "dircs", "ta"),
          outcome=st.sampled_from(["approve", "approve", "needs-discovery", "reject"]))
    def rom_decide(self, i, who, outcome):
        e = self.eng(i)
        request = ApprovalRequest.objects.filter(kind="rom", state="pending",
                                                 subject_id__in=RomVersion.objects.filter(rom_id=e["rom_id"])
                                                 .values("pk")).first()
        if request is not None:
            self.act(lambda: approvals.rom_decide(user=self.people[who], request=request, outcome=outcome,
                                                  comment="why", questions="How many runners?"))

    @rule(i=ENGAGEMENT, who=someone("sa", "sal"), users=USERS, dice=st.integers(0, 3))
    def rom_revise(self, i, who, users, dice):
        if dice:
            return
        e = self.eng(i)
        self.act(lambda: estimating.rom_revise(user=self.people[who], rom=self.rom(e),
                                               answers={"users": users, "projects": 500, "large_repos": 0}))

    @rule(i=ENGAGEMENT, who=someone("psmanager"), low=st.integers(20, 90), spread=st.integers(0, 30))
    def rom_estimate(self, i, who, low, spread):
        """The engagement manager prices a ROM the calculator cannot (outside the migration matrix)."""
        e = self.eng(i)
        rom = self.rom(e)
        if rom.current.high is not None or rom.status != Rom.Status.DRAFT:
            return
        service = getattr(estimating, "rom_estimate_manual", None)
        if service is None:
            if "dead-end" in IGNORE:
                return
            raise AssertionError("dead end: a ROM outside the matrix has no price and no act can give it one")
        self.act(lambda: service(user=self.people[who], rom=rom, low=f"{low}000", high=f"{low + spread}000",
                                 note="Engagement manager's estimate"))

    @rule(i=ENGAGEMENT, who=someone("sal"), stale=st.booleans())
    def open_ps(self, i, who, stale):
        e = self.eng(i)
        rom = e["stale_rom"] if stale else self.rom(e)
        self.act(lambda: estimating.rom_open_ps_opportunity(user=self.people[who], rom=rom))

    @rule(i=ENGAGEMENT, who=someone("sal"), amount=st.integers(1, 200))
    def ps_set_amount(self, i, who, amount):
        ps = self.ps(self.eng(i))
        if ps is not None:
            self.act(lambda: crm.ps_opportunity_set_amount(user=self.people[who], ps_opportunity=ps,
                                                           ps_amount=f"{amount}000"))

    # --- Quote (step 8) -----------------------------------------------------------------------------------------

    @rule(i=ENGAGEMENT, who=someone("sal"), discount=DISCOUNT, terms=TERMS, items=ITEMS)
    def quote_create(self, i, who, discount, terms, items):
        ps = self.ps(self.eng(i))
        if ps is not None:
            self.act(lambda: sales.quote_create(user=self.people[who], ps_opportunity=ps, discount_percent=discount,
                                                billing_terms=terms, items=items,
                                                valid_until=timezone.localdate() + dt.timedelta(days=20)))

    @rule(i=ENGAGEMENT, n=st.integers(0, 3), who=someone("sal"))
    def quote_submit(self, i, n, who):
        quotes = self.quotes(self.eng(i))
        if quotes:
            self.act(lambda: sales.quote_submit(user=self.people[who], quote=quotes[n % len(quotes)]))

    @rule(i=ENGAGEMENT, who=someone("dircs", "dirps", "vpsales", "vpgs", "psmanager"),
          outcome=st.sampled_from(["approve", "approve", "reject"]))
    def quote_decide(self, i, who, outcome):
        ps = self.ps(self.eng(i))
        if ps is None:
            return
        request = ApprovalRequest.objects.filter(kind="quote", state="pending",
                                                 subject_id__in=ps.quotes.values("pk")).first()
        if request is not None:
            self.act(lambda: sales.quote_decide(user=self.people[who], request=request, outcome=outcome,
                                                comment="why"))

    @rule(i=ENGAGEMENT, n=st.integers(0, 3), who=someone("sal"))
    def quote_send(self, i, n, who):
        e = self.eng(i)
        quotes = self.quotes(e)
        if quotes:
            self.act(lambda: sales.quote_send(user=self.people[who], quote=quotes[n % len(quotes)],
                                              contact=e["contact"]))

    @rule(i=ENGAGEMENT, n=st.integers(0, 3), accept=st.booleans())
    def quote_answer(self, i, n, accept):
        e = self.eng(i)
        quotes = self.quotes(e)
        if quotes:
            quote = quotes[n % len(quotes)]
            if accept:
                self.act(lambda: sales.quote_accept(customer=customer(e["contact"]), quote=quote))
            else:
                self.act(lambda: sales.quote_decline(customer=customer(e["contact"]), quote=quote, reason="budget"))

    @rule(i=ENGAGEMENT, timer=st.booleans())
    def quote_validity_passes(self, i, timer):
        """Time passes beyond the quotes' validity; the expiry timer runs now, or not yet."""
        quotes = self.quotes(self.eng(i))
        Quote.objects.filter(pk__in=[q.pk for q in quotes]).update(
            valid_until=timezone.localdate() - dt.timedelta(days=1))
        if timer:
            for quote in quotes:
                sales.quote_expire(quote_id=quote.pk)

    @rule(i=ENGAGEMENT, n=st.integers(0, 3), who=someone("sal"))
    def quote_withdraw(self, i, n, who):
        quotes = self.quotes(self.eng(i))
        service = getattr(sales, "quote_withdraw", None)
        if quotes and service is not None:
            self.act(lambda: service(user=self.people[who], quote=quotes[n % len(quotes)], reason="new scope"))

    # --- SOW (step 9) -------------------------------------------------------------------------------------------

    @rule(i=ENGAGEMENT, who=someone("pse"))
    def sow_create(self, i, who):
        accepted = [q for q in self.quotes(self.eng(i)) if q.state == Quote.State.ACCEPTED]
        if accepted:
            self.act(lambda: sales.sow_create(user=self.people[who], quote=accepted[0]))

    @rule(i=ENGAGEMENT, who=someone("pse"), rate=st.sampled_from([None, "150", "200"]), split=st.booleans())
    def sow_edit(self, i, who, rate, split):
        sow = self.sow(self.eng(i))
        if sow is None:
            return
        half = (sow.price / 2).quantize(Decimal("0.01"))
        milestones = [("Plan", half), ("Deliver", sow.price - half)] if split else [("All", sow.price + 1)]
        if sow.price <= 0:
            milestones = []
        self.act(lambda: sales.sow_update(user=self.people[who], sow=sow, hourly_rate=rate,
                                          milestones=milestones))

    @rule(i=ENGAGEMENT, who=someone("pse"))
    def sow_submit_review(self, i, who):
        sow = self.sow(self.eng(i))
        if sow is not None:
            self.act(lambda: sales.sow_submit_review(user=self.people[who], sow=sow))

    @rule(i=ENGAGEMENT, who=someone("psmanager", "dirps", "dircs"), approve=st.booleans())
    def sow_review(self, i, who, approve):
        sow = self.sow(self.eng(i))
        if sow is not None:
            self.act(lambda: sales.sow_review(user=self.people[who], sow=sow, approve=approve, comment="tighten"))

    @rule(i=ENGAGEMENT, who=someone("pse", "sal"))
    def sow_send(self, i, who):
        e = self.eng(i)
        sow = self.sow(e)
        if sow is not None:
            self.act(lambda: sales.sow_send(user=self.people[who], sow=sow, contact=e["contact"]))

    @rule(i=ENGAGEMENT, sign=st.booleans())
    def sow_answer(self, i, sign):
        e = self.eng(i)
        sow = self.sow(e)
        if sow is None:
            return
        shown = sow.content_hash()  # what the signing page showed
        if sign:
            self.act(lambda: sales.sow_sign(customer=customer(e["contact"]), sow=sow, name="Casey", title="CTO",
                                            content_hash=shown))
        else:
            self.act(lambda: sales.sow_request_changes(customer=customer(e["contact"]), sow=sow,
                                                       changes="Add a week"))

    # --- Closed Won, the parent, loss (steps 10-11) -------------------------------------------------------------

    @rule(i=ENGAGEMENT, who=someone("sal"))
    def close_won(self, i, who):
        ps = self.ps(self.eng(i))
        if ps is None:
            return
        ready = ps.stage == "sow-signed" and ps.parent.is_open and who == "sal"
        self.act(lambda: workflow.ps_opportunity_close_won(user=self.people[who], ps_opportunity=ps),
                 must_succeed="the rep marks a signed engagement Closed Won" if ready else "")

    @rule(i=ENGAGEMENT, stage=st.sampled_from(["8-closed-lost", "9-unqualified", "10-duplicate", "closed-won"]),
          dice=st.integers(0, 5))
    def parent_closes(self, i, stage, dice):
        """Now and then the parent deal closes (won, lost, unqualified, duplicate) whatever its PS child is doing."""
        if dice:
            return
        e = self.eng(i)
        from psops.crm.models import Opportunity

        opp = Opportunity.objects.get(pk=e["opp_id"])
        self.act(lambda: crm.opportunity_move_stage(user=self.people["sal"], opportunity=opp, stage=stage))

    @rule(i=ENGAGEMENT, who=someone("sal"), dice=st.integers(0, 3))
    def ps_close_lost(self, i, who, dice):
        ps = self.ps(self.eng(i))
        if dice:
            return
        if ps is not None:
            self.act(lambda: crm.ps_opportunity_close_lost(user=self.people[who], ps_opportunity=ps,
                                                           reason="budget"))

    # --- Delivery and completion acceptance (steps 13-14) -------------------------------------------------------

    @rule(i=ENGAGEMENT)
    def deliver(self, i):
        project = self.project(self.eng(i))
        if project is None or project.state != Project.State.CREATED:
            return
        manager = self.people["psmanager"]
        self.act(lambda: delivery.project_assign_engineer(user=manager, project=project, engineer=self.people["pse"]))
        project.refresh_from_db()
        self.act(lambda: delivery.project_kick_off(user=manager, project=project, kickoff_date=timezone.localdate()))
        project.refresh_from_db()
        self.act(lambda: delivery.project_start_delivery(user=manager, project=project))

    @rule(i=ENGAGEMENT)
    def ask_completion(self, i):
        e = self.eng(i)
        project = self.project(e)
        if project is not None:
            self.act(lambda: delivery.completion_request(user=self.people["pse"], project=project,
                                                         contact=e["contact"]))

    @rule(i=ENGAGEMENT, timer=st.booleans())
    def acceptance_deadline_passes(self, i, timer):
        """Five business days pass without an answer; the passive-acceptance timer runs now, or not yet."""
        project = self.project(self.eng(i))
        if project is None:
            return
        pending = AcceptanceRequest.objects.filter(project=project, state=AcceptanceRequest.State.PENDING)
        pending.update(passive_at=timezone.now() - dt.timedelta(minutes=1))
        if timer:
            for request in list(pending):
                delivery.acceptance_passive(request_id=request.pk)

    @rule(i=ENGAGEMENT, accept=st.booleans())
    def completion_answer(self, i, accept):
        e = self.eng(i)
        project = self.project(e)
        if project is None:
            return
        request = AcceptanceRequest.objects.filter(project=project, kind="completion", state="pending").first()
        if request is None:
            return
        buyer = customer(e["contact"])
        if accept:
            self.act(lambda: delivery.completion_accept(customer=buyer, request=request, name="Casey", title="CTO"))
        else:
            self.act(lambda: delivery.completion_reject(customer=buyer, request=request, reason="Not done"))

    # --- Someone edits records by hand (an admin shell, a script) -----------------------------------------------

    @rule(i=ENGAGEMENT)
    def tamper_approved_rom(self, i):
        rom = self.rom(self.eng(i))
        version = rom.approved_version
        if version is None:
            return
        try:
            with transaction.atomic():
                version.high = version.high + 1
                version.save()
        except (ApplicationError, IntegrityError):
            pass  # refused below the services: the promise holds

    @rule(i=ENGAGEMENT, field=st.sampled_from(["hourly_rate", "price", "scope"]))
    def tamper_signed_sow(self, i, field):
        sow = self.sow(self.eng(i))
        if sow is None or sow.state != Sow.State.SIGNED:
            return
        values = {"hourly_rate": Decimal("999"), "price": sow.price + 1, "scope": sow.scope + " and more"}
        try:
            with transaction.atomic():
                Sow.objects.filter(pk=sow.pk).update(**{field: values[field]})
        except (ApplicationError, IntegrityError):
            pass

    # --- After every step ---------------------------------------------------------------------------------------

    @invariant()
    def promises_hold(self):
        broken = invariants.violations(name for name in invariants.INVARIANTS if name not in IGNORE)
        assert not broken, "\n".join(str(v) for v in broken)


@pytest.mark.django_db
def test_the_chain_keeps_its_promises(capsys):
    with capsys.disabled():
        print(f"\nstateful chain test: {EXAMPLES} sequences of up to {STEPS} steps "
              "(PSOPS_STATEFUL_EXAMPLES / PSOPS_STATEFUL_STEPS)")
    ChainMachine.people = make_staff()
    run_state_machine_as_test(ChainMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        phases=[p for p in Phase if p != Phase.shrink or not os.environ.get("PSOPS_STATEFUL_NO_SHRINK")]))
    with capsys.disabled():
        print("acts done: " + ", ".join(f"{name} {n}" for name, n in sorted(TALLY.items())))
