"""Real records built through the real services: the test data goes through the same doors as users do."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.crm import services as crm
from psops.crm.customer import CustomerActor

# username -> roles, as in the demo data.
STAFF = {
    "sal": [roles.SALES_REP],
    "sal2": [roles.SALES_REP],
    "salesmgr": [roles.SALES_REP],
    "sa": [roles.SOLUTIONS_ARCHITECT],
    "tam": [roles.TAM],
    "psmanager": [roles.PS_MANAGER],
    "dircs": [roles.DIR_CS],
    "pse": [roles.PS_ENGINEER],
    "pse2": [roles.PS_ENGINEER],
    "finance": [roles.FINANCE],
    "controller": [roles.CONTROLLER],
    "admin": [roles.ADMINISTRATOR],
    "ta": [roles.TECHNICAL_ARCHITECT],
    "dirps": [roles.DIRECTOR_PS],
    "vpsales": [roles.VP_SALES],
    "vpgs": [roles.VP_GLOBAL_SERVICES],
}


def make_staff() -> dict:
    people = {}
    for name, role_names in STAFF.items():
        people[name] = user_ensure(username=name, roles=role_names, email=f"{name}@psops.test", first_name=name)
    people["sal"].manager = people["salesmgr"]
    people["sal"].save(update_fields=["manager"])
    return people


def make_deal(people: dict, *, segment: str = "large", name: str = "Acme Corp", amount: str = "250000"):
    account = crm.account_create(user=people["sal"], name=name)
    contact = crm.contact_create(user=people["sal"], account=account, name="Casey Customer",
                                 email=f"casey@{name.split()[0].lower()}.example", title="VP Engineering")
    opp = crm.opportunity_create(user=people["sal"], account=account, name="Platform expansion",
                                 close_date=timezone.localdate() + dt.timedelta(days=60), segment=segment,
                                 amount=amount)
    return account, contact, opp


def customer(contact) -> CustomerActor:
    return CustomerActor(contact=contact, ip_address="203.0.113.7", user_agent="pytest-browser/1.0")


# --- Stage builders: a fresh engagement brought to a named stage through the real services ---------------------
# One small function per stage; `reach(people, stage)` runs every stage up to and including `stage`, in order.
# Used by tests/test_permissions.py and tests/test_refusals.py.

import pytest  # noqa: E402
from django.apps import apps  # noqa: E402
from django.db import connection  # noqa: E402

from psops.activity.models import TimelineEvent  # noqa: E402
from psops.approvals import services as approvals  # noqa: E402
from psops.billing import services as billing  # noqa: E402
from psops.core.errors import ApplicationError  # noqa: E402
from psops.delivery import services as delivery  # noqa: E402
from psops.documents import services as documents  # noqa: E402
from psops.estimating import services as estimating  # noqa: E402
from psops.sales import services as sales  # noqa: E402
from psops.workflow import services as workflow  # noqa: E402

SMALL_ROM = {"users": 100, "projects": 500, "large_repos": 0}  # USD 30,000 - 40,000: no technical review needed


class Engagement:
    """The records of one deal's chain, filled in as stages are reached."""

    def __init__(self, people: dict, *, name: str = "Acme Corp", discount: str = "0",
                 billing_terms: str = "full-on-signature", hourly_rate: str = "200"):
        self.people, self.name, self.discount = people, name, discount
        self.billing_terms, self.hourly_rate = billing_terms, hourly_rate
        self.account = self.contact = self.opp = self.rom = self.rom_request = self.ps = self.quote = None
        self.quote_request = self.sow = self.project = self.invoice = self.entry = self.completion = None
        self.wrap = self.sign_off = self.case = self.write_off = None

    @property
    def buyer(self) -> CustomerActor:
        return customer(self.contact)


def _deal(e):
    e.account, e.contact, e.opp = make_deal(e.people, name=e.name)


def _scoping(e):
    crm.opportunity_move_stage(user=e.people["sal"], opportunity=e.opp, stage="2-scoping")


def _rom(e):
    e.rom = estimating.rom_create(user=e.people["sa"], opportunity=e.opp, template="sm-to-saas", answers=SMALL_ROM)


def _ps(e):
    e.ps = estimating.rom_open_ps_opportunity(user=e.people["sal"], rom=e.rom, name=f"{e.name} migration")


def _rom_submitted(e):
    e.rom_request = approvals.rom_submit(user=e.people["sal"], rom=e.rom)


def _rom_approved(e):
    approvals.rom_decide(user=e.people["psmanager"], request=e.rom_request, outcome="approve")
    e.rom.refresh_from_db()
    e.ps.refresh_from_db()


def _quote(e):
    e.quote = sales.quote_create(user=e.people["sal"], ps_opportunity=e.ps, discount_percent=e.discount,
                                 billing_terms=e.billing_terms,
                                 valid_until=timezone.localdate() + dt.timedelta(days=30))


def _quote_submitted(e):
    e.quote_request = sales.quote_submit(user=e.people["sal"], quote=e.quote)


# role -> the demo username holding it (the first one, for roles several people hold)
ROLE_HOLDER = {}
for _username, _roles in STAFF.items():
    for _role in _roles:
        ROLE_HOLDER.setdefault(_role, _username)


def _quote_approved(e):
    if e.quote_request is not None:  # a discount or other terms need approvals: one yes per role the rules name
        for req in e.quote_request.requirements.all():
            for role_name in req.approvers if req.mode == "all" else req.approvers[:1]:
                sales.quote_decide(user=e.people[ROLE_HOLDER[role_name]], request=e.quote_request, outcome="approve")
        e.quote.refresh_from_db(fields=["state"])  # keeps e.quote.ps_opportunity the same object as e.ps


def _quote_sent(e):
    sales.quote_send(user=e.people["sal"], quote=e.quote, contact=e.contact)


def shown(record, kind: str) -> str:
    """The SHA-256 of the document the customer's page shows, which their answer sends back (as the page does)."""
    return documents.current_document(record, kind).sha256


def _quote_accepted(e):
    sales.quote_accept(customer=e.buyer, quote=e.quote, document_sha256=shown(e.quote, "quote"))


def _sow(e):
    e.sow = sales.sow_create(user=e.people["pse"], quote=e.quote)
    if e.billing_terms == "time-and-materials":
        sales.sow_update(user=e.people["pse"], sow=e.sow, hourly_rate=e.hourly_rate)
    if e.billing_terms == "milestones":  # two milestones that add up to the price
        first = (e.sow.price / 2).quantize(e.sow.price)
        sales.sow_update(user=e.people["pse"], sow=e.sow,
                         milestones=[("Design and plan", first), ("Migration done", e.sow.price - first)])


def _sow_in_review(e):
    sales.sow_submit_review(user=e.people["pse"], sow=e.sow)


def _sow_approved(e):
    reviewer = "psmanager" if e.billing_terms == "full-on-signature" else "dirps"
    sales.sow_review(user=e.people[reviewer], sow=e.sow, approve=True)


def _sow_sent(e):
    sales.sow_send(user=e.people["pse"], sow=e.sow, contact=e.contact)


def _sow_signed(e):
    sales.sow_sign(customer=e.buyer, sow=e.sow, name="Casey Customer", title="VP Engineering",
                   document_sha256=shown(e.sow, "sow"))


def _won(e):
    e.project = workflow.ps_opportunity_close_won(user=e.people["sal"], ps_opportunity=e.ps)
    e.ps.refresh_from_db()
    e.invoice = e.project.invoices.first()  # the draft the terms call for at signature (None for some terms)


def _invoiced(e):
    if e.invoice is not None:
        billing.invoice_issue(user=e.people["finance"], invoice=e.invoice)


def _staffed(e):
    delivery.project_assign_engineer(user=e.people["psmanager"], project=e.project, engineer=e.people["pse"])


def _kicked_off(e):
    delivery.project_kick_off(user=e.people["psmanager"], project=e.project, kickoff_date=timezone.localdate(),
                              budget_hours="120")


def _in_delivery(e):
    delivery.project_start_delivery(user=e.people["psmanager"], project=e.project)


def _time_logged(e):
    e.entry = delivery.time_log(user=e.people["pse"], project=e.project, date=timezone.localdate(), hours="7.5")


def _completion_asked(e):
    e.completion = delivery.completion_request(user=e.people["pse"], project=e.project, contact=e.contact)


def _completed(e):
    delivery.completion_accept(customer=e.buyer, request=e.completion, name="Casey Customer", title="VP Engineering")
    e.project.refresh_from_db()


def _wrap_up(e):
    e.wrap = workflow.wrap_up_start(user=e.people["pse"], project=e.project)


def _on_hold(e):
    delivery.project_hold(user=e.people["psmanager"], project=e.project, reason="Customer freeze until next quarter")


def _wrap_up_ready(e):
    for code in ("summary-sent", "notified", "documents"):
        delivery.wrap_up_tick(user=e.people["pse"], wrap=e.wrap, code=code)
    delivery.wrap_up_tick(user=e.people["pse"], wrap=e.wrap, code="hours-cost", actual_hours="100",
                           actual_cost="15000")
    e.sign_off = delivery.sign_off_send(user=e.people["sal"], project=e.project, contact=e.contact)


def _wrapped_up(e):
    e.case = workflow.wrap_up_finish(user=e.people["pse"], wrap=e.wrap)
    e.project.refresh_from_db()


def _signed_off(e):
    delivery.sign_off_sign(customer=e.buyer, request=e.sign_off, name="Casey Customer", title="VP Engineering",
                           document_sha256=e.sign_off.document.sha256)


def _write_off_requested(e):
    e.write_off = billing.write_off_request(user=e.people["finance"], invoice=e.invoice, amount="1000.00",
                                            reason="Goodwill after a late start")


# stage -> (the stage it follows, its builder), in process order.
STAGES = {
    "deal": (None, _deal),
    "scoping": ("deal", _scoping),
    "rom": ("deal", _rom),
    "ps": ("rom", _ps),
    "rom-submitted": ("ps", _rom_submitted),
    "rom-approved": ("rom-submitted", _rom_approved),
    "quote": ("rom-approved", _quote),
    "quote-submitted": ("quote", _quote_submitted),
    "quote-approved": ("quote-submitted", _quote_approved),
    "quote-sent": ("quote-approved", _quote_sent),
    "quote-accepted": ("quote-sent", _quote_accepted),
    "sow": ("quote-accepted", _sow),
    "sow-in-review": ("sow", _sow_in_review),
    "sow-approved": ("sow-in-review", _sow_approved),
    "sow-sent": ("sow-approved", _sow_sent),
    "sow-signed": ("sow-sent", _sow_signed),
    "won": ("sow-signed", _won),
    "invoiced": ("won", _invoiced),
    "write-off-requested": ("invoiced", _write_off_requested),
    "staffed": ("invoiced", _staffed),
    "kicked-off": ("staffed", _kicked_off),
    "in-delivery": ("kicked-off", _in_delivery),
    "on-hold": ("in-delivery", _on_hold),
    "time-logged": ("in-delivery", _time_logged),
    "completion-asked": ("in-delivery", _completion_asked),
    "completed": ("completion-asked", _completed),
    "wrap-up": ("completed", _wrap_up),
    "wrap-up-ready": ("wrap-up", _wrap_up_ready),
    "wrapped-up": ("wrap-up-ready", _wrapped_up),
    "signed-off": ("wrapped-up", _signed_off),
}


def reach(people: dict, stage: str, **options) -> Engagement:
    """A fresh engagement at `stage`: every earlier stage was done, by the people whose act it is."""
    path = []
    while stage is not None:
        path.append(stage)
        stage = STAGES[stage][0]
    engagement = Engagement(people, **options)
    for name in reversed(path):
        STAGES[name][1](engagement)
    return engagement


def db_state() -> dict:
    """Every row of every psops table, to show that a refused act changed nothing (rows, states and amounts)."""
    tables = sorted({m._meta.db_table for m in apps.get_models(include_auto_created=True)
                     if m.__module__.startswith("psops.")})
    with connection.cursor() as cursor:
        state = {}
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}" ORDER BY 1')  # table names come from the app registry
            state[table] = cursor.fetchall()
    return state


def assert_refused(act, *codes: str) -> ApplicationError:
    """Run `act()`; it must be refused with one of `codes` (any code when none is named), with a sentence for a
    person, and change nothing."""
    before, events = db_state(), TimelineEvent.objects.count()
    with pytest.raises(ApplicationError) as refused:
        act()
    error = refused.value
    assert not codes or error.code in codes, f"refused with {error.code!r} ({error.message}), expected {codes}"
    assert error.message.strip() and "Traceback" not in error.message and error.message in str(error)
    assert TimelineEvent.objects.count() == events
    after = db_state()
    changed = sorted(label for label in before if before[label] != after[label])
    assert not changed, f"a refused act changed {changed}"
    return error
