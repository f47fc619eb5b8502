"""The permission matrix: every demo role against every staff act of the services.

Each case builds a fresh engagement up to the moment just before the act (through the real services, see
`tests.factories.reach`), then lets one person try the act. The people allowed to do it succeed and leave a timeline
event; everybody else is refused with "forbidden" or "segregation-of-duties" and the database is exactly as it was.
Segregation of duties (nobody approves their own ROM, discount, SOW, write-off or time) has its own tests below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from psops.accounts.services import user_ensure
from psops.activity.models import TimelineEvent
from psops.approvals import policy as policy_rules
from psops.approvals import services as approvals
from psops.billing import services as billing
from psops.billing.models import WriteOff
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.delivery import services as delivery
from psops.delivery.models import TimeEntry
from psops.documents import services as documents
from psops.documents.defaults import default_html
from psops.estimating import services as estimating
from psops.estimating.models import Rom
from psops.sales import services as sales
from psops.sales.models import Sow
from psops.workflow import services as workflow
from tests.factories import SMALL_ROM, STAFF, STAGES, Engagement, assert_refused, make_staff, reach

pytestmark = pytest.mark.django_db

FORBIDDEN = tuple(ApplicationError.FORBIDDEN_CODES)  # "forbidden", "segregation-of-duties"
EVERYONE = tuple(STAFF)  # sal, sal2, salesmgr, sa, tam, psmanager, dircs, pse, pse2, finance, controller, admin, ...
OWNER = {"sal", "salesmgr"}  # the deal's sales rep and their manager (sal2 is a sales rep who does not own it)
SALES = {"sal", "sal2", "salesmgr"}
ON_PROJECT = {"pse", "psmanager"}  # pse is assigned to the project; pse2 is not


@dataclass(frozen=True)
class Act:
    name: str
    stage: str  # the stage the engagement is brought to before the act
    allowed: frozenset[str]
    run: Callable[[Engagement, Any], Any]
    options: dict = field(default_factory=dict)  # for `reach`


ACTS: dict[str, Act] = {}


def act(stage: str, allowed: set[str], **options: Any):
    """Register a staff act: `fn(engagement, user)` does it once, as `user`."""

    def register(fn: Callable[[Engagement, Any], Any]) -> Callable[[Engagement, Any], Any]:
        ACTS[fn.__name__] = Act(fn.__name__, stage, frozenset(allowed), fn, options)
        return fn

    return register


# --- CRM: deals and PS opportunities (steps 1, 4, 5) ----------------------------------------------------------


@act("deal", SALES | {"admin"})
def account_create(e, user):
    return crm.account_create(user=user, name="Initech")


@act("deal", SALES | {"admin"})
def contact_create(e, user):
    return crm.contact_create(user=user, account=e.account, name="Dana Buyer", email="dana@acme.example")


@act("deal", SALES | {"admin"})
def opportunity_create(e, user):
    return crm.opportunity_create(user=user, account=e.account, name="Second deal", segment="smb", amount="1000",
                                  close_date=timezone.localdate() + dt.timedelta(days=30))


@act("deal", OWNER | {"admin"})
def opportunity_move_stage_forward(e, user):
    return crm.opportunity_move_stage(user=user, opportunity=e.opp, stage="1-discovery")


@act("scoping", {"admin"})
def opportunity_move_stage_back(e, user):
    return crm.opportunity_move_stage(user=user, opportunity=e.opp, stage="1-discovery",
                                      reason="Scoping started before discovery was done")


@act("deal", OWNER)
def ps_opportunity_create(e, user):
    return crm.ps_opportunity_create(user=user, parent=e.opp, name="Acme onboarding", ps_amount="25000")


@act("ps", OWNER)
def ps_opportunity_set_amount(e, user):
    return crm.ps_opportunity_set_amount(user=user, ps_opportunity=e.ps, ps_amount="45000", reason="bigger scope")


@act("ps", OWNER)
def ps_opportunity_close_lost(e, user):
    return crm.ps_opportunity_close_lost(user=user, ps_opportunity=e.ps, reason="budget", note="No budget this year")


# --- ROM and its approval (steps 2, 3, 6, 7) -----------------------------------------------------------------


@act("deal", OWNER | {"sa", "tam"})  # the deal's own rep (or their manager); architects and TAMs scope any deal
def rom_create(e, user):
    return estimating.rom_create(user=user, opportunity=e.opp, template="sm-to-saas", answers=SMALL_ROM)


@act("rom", OWNER | {"sa"})  # the ROM's author (sa) or the deal's owner
def rom_revise(e, user):
    return estimating.rom_revise(user=user, rom=e.rom, answers={**SMALL_ROM, "projects": 900})


@act("rom", OWNER)
def rom_open_ps_opportunity(e, user):
    return estimating.rom_open_ps_opportunity(user=user, rom=e.rom, name="Acme migration")


@act("ps", OWNER)
def rom_submit(e, user):
    return approvals.rom_submit(user=user, rom=e.rom)


@act("rom-submitted", {"psmanager", "dircs"})  # sal submitted it, sa wrote it: neither decides
def rom_decide(e, user):
    return approvals.rom_decide(user=user, request=e.rom_request, outcome="approve", comment="Fine")


@act("deal", {"admin"})
def policy_publish(e, user):
    return approvals.policy_publish(user=user, rules=policy_rules.DEFAULT_RULES, note="Same rules, republished")


# --- Quote (step 8) --------------------------------------------------------------------------------------------


@act("rom-approved", OWNER)
def quote_create(e, user):
    return sales.quote_create(user=user, ps_opportunity=e.ps, valid_until=timezone.localdate() + dt.timedelta(30))


@act("quote", OWNER)
def quote_submit(e, user):
    return sales.quote_submit(user=user, quote=e.quote)


@act("quote-submitted", {"dircs"}, discount="10")  # any discount needs the Dir. CS
def quote_decide(e, user):
    return sales.quote_decide(user=user, request=e.quote_request, outcome="approve")


@act("quote-approved", OWNER)
def quote_send(e, user):
    return sales.quote_send(user=user, quote=e.quote, contact=e.contact)


# --- SOW (step 9) and Closed Won (steps 10-12) ---------------------------------------------------------------


@act("quote-accepted", {"pse", "pse2"})
def sow_create(e, user):
    return sales.sow_create(user=user, quote=e.quote)


@act("sow", {"pse"})  # the SOW's author
def sow_update(e, user):
    return sales.sow_update(user=user, sow=e.sow, assumptions="Customer provides admin access on day 1.")


@act("sow", {"pse"})
def sow_submit_review(e, user):
    return sales.sow_submit_review(user=user, sow=e.sow)


@act("sow-in-review", {"psmanager", "dircs", "dirps"})
def sow_review(e, user):
    return sales.sow_review(user=user, sow=e.sow, approve=True)


@act("sow-approved", OWNER | {"pse"})
def sow_send(e, user):
    return sales.sow_send(user=user, sow=e.sow, contact=e.contact)


@act("sow-signed", OWNER)
def ps_opportunity_close_won(e, user):
    return workflow.ps_opportunity_close_won(user=user, ps_opportunity=e.ps)


# --- Delivery (step 13) ----------------------------------------------------------------------------------------


@act("won", {"psmanager"})
def project_assign_engineer(e, user):
    return delivery.project_assign_engineer(user=user, project=e.project, engineer=e.people["pse2"])


@act("staffed", {"psmanager"})
def project_kick_off(e, user):
    return delivery.project_kick_off(user=user, project=e.project, kickoff_date=timezone.localdate())


@act("kicked-off", {"psmanager"})
def project_start_delivery(e, user):
    return delivery.project_start_delivery(user=user, project=e.project)


@act("in-delivery", ON_PROJECT)
def project_set_progress(e, user):
    return delivery.project_set_progress(user=user, project=e.project, percent=50)


@act("in-delivery", {"psmanager"})
def project_hold(e, user):
    return delivery.project_hold(user=user, project=e.project, reason="Customer asked to pause")


@act("on-hold", {"psmanager"})
def project_resume(e, user):
    return delivery.project_resume(user=user, project=e.project)


@act("in-delivery", {"psmanager"})
def project_cancel(e, user):
    return delivery.project_cancel(user=user, project=e.project, reason="Customer went bankrupt")


@act("in-delivery", {"psmanager"})
def change_order_add(e, user):
    return workflow.change_order_add(user=user, project=e.project, description="Two more Geo sites", amount="5000")


@act("in-delivery", {"pse"})  # engineers on the project, and only them
def time_log(e, user):
    return delivery.time_log(user=user, project=e.project, date=timezone.localdate(), hours="6")


@act("time-logged", {"psmanager"})
def time_approve(e, user):
    return delivery.time_approve(user=user, entries=[e.entry])


# --- Completion, wrap-up (step 14) and sign-off (step 15) -----------------------------------------------------


@act("in-delivery", ON_PROJECT)
def completion_request(e, user):
    return delivery.completion_request(user=user, project=e.project, contact=e.contact)


@act("completed", ON_PROJECT)
def wrap_up_start(e, user):
    return workflow.wrap_up_start(user=user, project=e.project)


@act("wrap-up", ON_PROJECT)
def wrap_up_tick(e, user):
    return delivery.wrap_up_tick(user=user, wrap=e.wrap, code="summary-sent")


@act("wrap-up-ready", ON_PROJECT)
def wrap_up_finish(e, user):
    return workflow.wrap_up_finish(user=user, wrap=e.wrap)


@act("completed", OWNER | {"tam"})
def sign_off_send(e, user):
    return delivery.sign_off_send(user=user, project=e.project, contact=e.contact)


@act("wrapped-up", OWNER | {"tam"})
def sign_off_record_reply(e, user):
    return delivery.sign_off_record_reply(user=user, request=e.sign_off, reply="Accepted, thanks!")


@act("signed-off", {"psmanager"})
def project_close(e, user):
    return delivery.project_close(user=user, project=e.project)


# --- Billing (step 12) and collections (step 16) --------------------------------------------------------------


@act("won", {"finance"})
def invoice_issue(e, user):
    return billing.invoice_issue(user=user, invoice=e.invoice)


@act("won", {"finance"})
def invoice_void(e, user):
    return billing.invoice_void(user=user, invoice=e.invoice, reason="Wrong billing contact")


@act("invoiced", {"finance"})
def payment_record(e, user):
    return billing.payment_record(user=user, invoice=e.invoice, amount="1000.00", received_on=timezone.localdate())


@act("invoiced", {"finance"})
def credit_note_issue(e, user):
    return billing.credit_note_issue(user=user, invoice=e.invoice, amount="1000.00", reason="Late start")


@act("invoiced", {"finance"})
def invoice_send(e, user):
    return billing.invoice_send(user=user, invoice=e.invoice, contact=e.contact)


@act("sow-sent", OWNER | {"pse"})
def document_upload(e, user):
    return documents.document_upload(user=user, record=e.sow, data=b"%PDF-1.7 redlined", name="redlines.pdf")


@act("invoiced", {"finance", "controller", "admin"})  # the administrator may remake any document
def document_regenerate(e, user):
    return documents.document_regenerate(user=user, record=e.invoice, kind="invoice")


@act("deal", {"admin"})
def template_save(e, user):
    return documents.template_save(user=user, kind="credit-note", body=default_html("credit-note"))


@act("wrapped-up", {"finance"})
def collection_remind(e, user):
    return billing.collection_remind(user=user, case=e.case)


@act("wrapped-up", {"finance"})
def collection_promise(e, user):
    return billing.collection_promise(user=user, case=e.case, amount="5000",
                                      promised_for=timezone.localdate() + dt.timedelta(days=7))


@act("wrapped-up", {"finance"})
def collection_dispute(e, user):
    return billing.collection_dispute(user=user, case=e.case, note="Customer disputes the travel costs")


@act("invoiced", {"finance"})
def write_off_request(e, user):
    return billing.write_off_request(user=user, invoice=e.invoice, amount="500.00", reason="Goodwill")


@act("write-off-requested", {"controller"})  # finance requested it
def write_off_decide(e, user):
    return billing.write_off_decide(user=user, write_off=e.write_off, approve=True)


def _cases():
    for act_ in ACTS.values():
        for username in EVERYONE:
            yield pytest.param(act_, username, id=f"{act_.name}-{username}")


@pytest.fixture(scope="module")
def staff(django_db_setup, django_db_blocker):
    """The demo people, made once for the matrix (users never change here) and removed after the module: every
    case still builds its own fresh deal, inside its own transaction."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        people = make_staff()
    yield people
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.mark.parametrize(("act_", "username"), list(_cases()))
def test_permission_matrix(staff, db, act_, username):
    engagement = reach(staff, act_.stage, **act_.options)
    user = staff[username]
    if username in act_.allowed:
        events = TimelineEvent.objects.count()
        act_.run(engagement, user)
        assert TimelineEvent.objects.count() > events, "an allowed act leaves a timeline event"
    else:
        assert_refused(lambda: act_.run(engagement, user), *FORBIDDEN)


def test_the_matrix_covers_every_staff_act():
    required = {
        "opportunity_move_stage_forward", "opportunity_move_stage_back", "ps_opportunity_create",
        "ps_opportunity_set_amount", "ps_opportunity_close_lost", "rom_create", "rom_revise", "rom_submit",
        "rom_decide", "quote_create", "quote_submit", "quote_send", "quote_decide", "sow_create", "sow_submit_review",
        "sow_review", "sow_send", "ps_opportunity_close_won", "project_assign_engineer", "project_kick_off",
        "project_start_delivery", "project_set_progress", "project_hold", "change_order_add", "time_log",
        "time_approve", "completion_request", "wrap_up_start", "wrap_up_tick", "sign_off_send", "invoice_issue",
        "invoice_void", "payment_record", "credit_note_issue", "collection_remind", "write_off_request",
        "write_off_decide", "policy_publish", "invoice_send", "document_upload", "document_regenerate",
        "template_save",
    }
    assert required <= set(ACTS), sorted(required - set(ACTS))
    for act_ in ACTS.values():
        assert act_.stage in STAGES and act_.allowed <= set(EVERYONE), act_.name


# --- Segregation of duties: one person holding both roles still may not approve their own work -----------------


def _person(people, username: str, *role_names: str):
    people[username] = user_ensure(username=username, roles=list(role_names), email=f"{username}@psops.test")
    return people[username]


def test_nobody_approves_the_rom_they_wrote_and_submitted(people):
    both = _person(people, "salpsm", "sales_rep", "ps_manager")
    people["sal"] = both  # the dual-role person owns the deal, writes and submits the ROM
    engagement = reach(people, "deal")
    rom = estimating.rom_create(user=both, opportunity=engagement.opp, template="sm-to-saas", answers=SMALL_ROM)
    request = approvals.rom_submit(user=both, rom=rom)
    error = assert_refused(lambda: approvals.rom_decide(user=both, request=request, outcome="approve"),
                           "segregation-of-duties")
    assert "own" in error.message
    # The other approver role still decides it.
    approvals.rom_decide(user=people["dircs"], request=request, outcome="approve")
    assert Rom.objects.get(pk=rom.pk).status == Rom.Status.APPROVED


def test_nobody_approves_a_rom_they_submitted_even_if_someone_else_wrote_it(people):
    both = _person(people, "salpsm", "sales_rep", "ps_manager")
    people["sal"] = both  # owns the deal; the SA writes the ROM
    engagement = reach(people, "rom")
    request = approvals.rom_submit(user=both, rom=engagement.rom)
    assert_refused(lambda: approvals.rom_decide(user=both, request=request, outcome="approve"),
                   "segregation-of-duties")


def test_nobody_approves_a_rom_they_wrote_even_if_someone_else_submitted_it(people):
    both = _person(people, "dircs_sa", "solutions_architect", "dir_cs")
    engagement = reach(people, "deal")
    rom = estimating.rom_create(user=both, opportunity=engagement.opp, template="sm-to-saas", answers=SMALL_ROM)
    request = approvals.rom_submit(user=people["sal"], rom=rom)
    for outcome in ("approve", "reject", "needs-discovery"):
        assert_refused(lambda o=outcome: approvals.rom_decide(user=both, request=request, outcome=o, comment="x"),
                       "segregation-of-duties")


def test_nobody_approves_their_own_discount(people):
    both = _person(people, "saldircs", "sales_rep", "dir_cs")
    people["sal"] = both  # owns the deal, builds and submits the discounted quote
    engagement = reach(people, "quote-submitted", discount="15")
    assert engagement.quote_request is not None
    assert_refused(lambda: sales.quote_decide(user=both, request=engagement.quote_request, outcome="approve"),
                   "segregation-of-duties")


def test_nobody_reviews_their_own_sow(people):
    both = _person(people, "psepsm", "ps_engineer", "ps_manager")
    engagement = reach(people, "quote-accepted")
    sow = sales.sow_create(user=both, quote=engagement.quote)
    sales.sow_submit_review(user=both, sow=sow)
    assert_refused(lambda: sales.sow_review(user=both, sow=sow, approve=True), "segregation-of-duties")
    assert_refused(lambda: sales.sow_review(user=both, sow=sow, approve=False, comment="Fix the scope"),
                   "segregation-of-duties")
    sales.sow_review(user=people["psmanager"], sow=sow, approve=True)
    assert Sow.objects.get(pk=sow.pk).state == Sow.State.APPROVED


def test_nobody_approves_their_own_write_off(people):
    both = _person(people, "fincontroller", "finance", "controller")
    engagement = reach(people, "invoiced")
    write_off = billing.write_off_request(user=both, invoice=engagement.invoice, amount="100", reason="Goodwill")
    assert_refused(lambda: billing.write_off_decide(user=both, write_off=write_off, approve=True),
                   "segregation-of-duties")
    assert_refused(lambda: billing.write_off_decide(user=both, write_off=write_off, approve=False),
                   "segregation-of-duties")
    billing.write_off_decide(user=people["controller"], write_off=write_off, approve=True)
    assert WriteOff.objects.get(pk=write_off.pk).state == WriteOff.State.APPROVED


def test_nobody_approves_their_own_time(people):
    both = _person(people, "psepsm", "ps_engineer", "ps_manager")
    engagement = reach(people, "time-logged")
    delivery.project_assign_engineer(user=people["psmanager"], project=engagement.project, engineer=both)
    own = delivery.time_log(user=both, project=engagement.project, date=timezone.localdate(), hours="4")
    assert_refused(lambda: delivery.time_approve(user=both, entries=[own]), "segregation-of-duties")
    # A batch holding one's own entry is refused as a whole: the colleague's entry is not approved either.
    assert_refused(lambda: delivery.time_approve(user=both, entries=[engagement.entry, own]), "segregation-of-duties")
    assert TimeEntry.objects.filter(approved_at__isnull=False).count() == 0
    assert delivery.time_approve(user=people["psmanager"], entries=[own]) == 1

