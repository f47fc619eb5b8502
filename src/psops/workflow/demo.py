"""Demo data: one user per role and deals standing at different steps, built through the real services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.activity.models import Message
from psops.activity.services import message_post, thread_for
from psops.approvals import services as approvals
from psops.billing import services as billing
from psops.crm import services as crm
from psops.crm.customer import CustomerActor
from psops.crm.models import Account
from psops.delivery import services as delivery
from psops.delivery.models import TimeEntry
from psops.documents import services as documents
from psops.documents.models import Kind
from psops.estimating import services as estimating
from psops.sales import services as sales

from . import services as workflow

PASSWORD = "demo"
DEMO_USERS = [
    # username, roles, first name, last name, title
    ("sal", [roles.SALES_REP], "Sam", "Sales", "Strategic account leader"),
    ("sa", [roles.SOLUTIONS_ARCHITECT], "Ada", "Architect", "Solutions architect"),
    ("tam", [roles.TAM], "Toni", "Account", "Technical account manager"),
    ("psmanager", [roles.PS_MANAGER], "Pat", "Manager", "Manager, Professional Services"),
    ("dircs", [roles.DIR_CS], "Dana", "Director", "Director of customer success"),
    ("pse", [roles.PS_ENGINEER], "Eli", "Engineer", "Professional services engineer"),
    ("finance", [roles.FINANCE], "Fran", "Finance", "Accounts receivable"),
    ("controller", [roles.CONTROLLER], "Cory", "Controller", "Controller"),
    ("ta", [roles.TECHNICAL_ARCHITECT], "Theo", "Architect", "Technical architect"),
    ("dirps", [roles.DIRECTOR_PS], "Drew", "Services", "Director of professional services"),
    ("vpsales", [roles.VP_SALES], "Val", "Sales", "VP of sales"),
    ("vpgs", [roles.VP_GLOBAL_SERVICES], "Vic", "Services", "VP of global services"),
    ("admin", [roles.ADMINISTRATOR], "Alex", "Admin", "Administrator"),
]


def ensure_users() -> dict:
    people = {}
    for username, role_names, first, last, title in DEMO_USERS:
        is_admin = username == "admin"
        user = user_ensure(username=username, roles=role_names, password=PASSWORD, first_name=first, last_name=last,
                           email=f"{username}@psops.example", is_staff=is_admin, is_superuser=is_admin)
        if user.title != title:
            user.title = title
            user.save(update_fields=["title"])
        people[username] = user
    return people


def _deal(p: dict, name: str, segment: str, contact: str):
    account = crm.account_create(user=p["sal"], name=name)
    person = crm.contact_create(user=p["sal"], account=account, name=contact,
                                email=f"{contact.split()[0].lower()}@{name.split()[0].lower()}.example",
                                title="Director of Engineering")
    opp = crm.opportunity_create(user=p["sal"], account=account, name=f"{name.split()[0]} platform",
                                 close_date=timezone.localdate() + dt.timedelta(days=45), segment=segment,
                                 amount="180000")
    crm.opportunity_move_stage(user=p["sal"], opportunity=opp, stage="2-scoping")
    crm.deal_team_set(user=p["sal"], opportunity=opp, solutions_architect=p["sa"], tam=p["tam"])
    message_post(user=p["sa"], thread=thread_for(opp), body=f"Scoping call held with {contact}. @sal")
    return account, person, opp


def _customer(contact) -> CustomerActor:
    return CustomerActor(contact=contact, ip_address="127.0.0.1", user_agent="psops demo")


def _approved(p, opp, template, answers):
    rom = estimating.rom_create(user=p["sa"], opportunity=opp, template=template, answers=answers)
    request = approvals.rom_submit(user=p["sal"], rom=rom)
    ps = estimating.rom_open_ps_opportunity(user=p["sal"], rom=rom)
    if request is not None:
        approvals.rom_decide(user=p["psmanager"], request=request, outcome="approve", comment="Looks right.")
        request.refresh_from_db()
        if request.state == "pending":
            approvals.rom_decide(user=p["ta"], request=request, outcome="approve")
    ps.refresh_from_db()
    return rom, ps


def _shown(record, kind: str) -> str | None:
    """What the customer's page shows them: the SHA-256 of the record's current document, sent back with the answer
    as the page's hidden field does."""
    document = documents.current_document(record, kind)
    return document.sha256 if document else None


def _signed(p, opp, contact, template, answers):
    rom, ps = _approved(p, opp, template, answers)
    quote = sales.quote_create(user=p["sal"], ps_opportunity=ps, valid_until=timezone.localdate() + dt.timedelta(30))
    sales.quote_submit(user=p["sal"], quote=quote)
    sales.quote_send(user=p["sal"], quote=quote, contact=contact)
    sales.quote_accept(customer=_customer(contact), quote=quote, document_sha256=_shown(quote, Kind.QUOTE))
    sow = sales.sow_create(user=p["pse"], quote=quote)
    sales.sow_submit_review(user=p["pse"], sow=sow)
    sales.sow_review(user=p["psmanager"], sow=sow, approve=True)
    sales.sow_send(user=p["pse"], sow=sow, contact=contact)
    return ps, quote, sow


def _in_delivery(p, opp, contact, template, answers, issued_days_ago: int):
    ps, quote, sow = _signed(p, opp, contact, template, answers)
    sales.sow_sign(customer=_customer(contact), sow=sow, name=contact.name, title=contact.title,
                   document_sha256=_shown(sow, Kind.SOW))
    project = workflow.ps_opportunity_close_won(user=p["sal"], ps_opportunity=ps)
    for invoice in project.invoices.all():
        billing.invoice_issue(user=p["finance"], invoice=invoice,
                              issue_date=timezone.localdate() - dt.timedelta(days=issued_days_ago))
    delivery.project_assign_engineer(user=p["psmanager"], project=project, engineer=p["pse"])
    delivery.project_kick_off(user=p["psmanager"], project=project, kickoff_date=timezone.localdate(),
                              go_live_date=timezone.localdate() + dt.timedelta(days=30), budget_hours="160")
    delivery.project_start_delivery(user=p["psmanager"], project=project)
    # The latest day the engineer still has room for 6 hours, so that loading more demo deals stays within a day.
    worked_on = next(day for day in (timezone.localdate() - dt.timedelta(days=k) for k in range(365))
                     if (TimeEntry.objects.filter(engineer=p["pse"], date=day).aggregate(t=Sum("hours"))["t"] or 0)
                     <= 18)
    delivery.time_log(user=p["pse"], project=project, date=worked_on, hours="6")
    return project


def scenario_scoping(p):
    _deal(p, "Northwind Traders", "mid-market", "Nora North")


def scenario_rom_waiting(p):
    _, _, opp = _deal(p, "Globex Corporation", "large", "Gus Globe")
    rom = estimating.rom_create(user=p["sa"], opportunity=opp, template="price-book",
                                answers={"GL-CICD-R": 2, "attendees": 15, "GL-JIRA": 1})
    approvals.rom_submit(user=p["sal"], rom=rom)
    estimating.rom_open_ps_opportunity(user=p["sal"], rom=rom)


def scenario_discovery(p):
    _, _, opp = _deal(p, "Initech", "smb", "Ivy Init")
    rom = estimating.rom_create(user=p["sa"], opportunity=opp, template="implementation",
                                answers={"instances": 1, "ha_geo": 1, "integrations": 2})
    request = approvals.rom_submit(user=p["sal"], rom=rom)
    estimating.rom_open_ps_opportunity(user=p["sal"], rom=rom)
    approvals.rom_decide(user=p["dircs"], request=request, outcome="needs-discovery",
                         questions="Is Geo really needed at go-live, or in a second phase?")


def scenario_quote_sent(p):
    _, contact, opp = _deal(p, "Umbrella Health", "pubsec", "Uma Brella")
    _, ps = _approved(p, opp, "price-book", {"GL-RR-COM": 1, "GL-LDAP": 1})
    quote = sales.quote_create(user=p["sal"], ps_opportunity=ps, valid_until=timezone.localdate() + dt.timedelta(21))
    sales.quote_submit(user=p["sal"], quote=quote)
    sales.quote_send(user=p["sal"], quote=quote, contact=contact)


def scenario_sow_out(p):
    _, contact, opp = _deal(p, "Stark Industries", "large", "Sol Stark")
    _signed(p, opp, contact, "sm-to-saas", {"users": 400, "projects": 900})


def scenario_delivery(p):
    _, contact, opp = _deal(p, "Wayne Enterprises", "large", "Wes Wayne")
    _in_delivery(p, opp, contact, "implementation", {"instances": 2, "integrations": 1, "workshops": 2}, 3)


def scenario_sign_off(p):
    """Delivered and accepted: the sign-off waits to be sent (the TAM's and the sales rep's queue)."""
    _, contact, opp = _deal(p, "Hooli", "mid-market", "Hank Hooli")
    project = _in_delivery(p, opp, contact, "price-book", {"GL-RR-COM": 1, "GL-LDAP": 1}, 10)
    acceptance = delivery.completion_request(user=p["pse"], project=project, contact=contact)
    delivery.completion_accept(customer=_customer(contact), request=acceptance, name=contact.name,
                               title=contact.title)


def scenario_collections(p):
    _, contact, opp = _deal(p, "Acme Corp", "mid-market", "Casey Coyote")
    project = _in_delivery(p, opp, contact, "sm-to-saas", {"users": 300, "projects": 800, "large_repos": 4}, 50)
    buyer = _customer(contact)
    acceptance = delivery.completion_request(user=p["pse"], project=project, contact=contact)
    delivery.completion_accept(customer=buyer, request=acceptance, name=contact.name, title=contact.title)
    project.refresh_from_db()
    wrap = workflow.wrap_up_start(user=p["pse"], project=project)
    for code in ("summary-sent", "notified", "documents"):
        delivery.wrap_up_tick(user=p["pse"], wrap=wrap, code=code)
    delivery.wrap_up_tick(user=p["pse"], wrap=wrap, code="hours-cost", actual_hours="150", actual_cost="21000")
    signoff = delivery.sign_off_send(user=p["sal"], project=project, contact=contact)
    delivery.sign_off_sign(customer=buyer, request=signoff, name=contact.name, title=contact.title,
                           document_sha256=signoff.document.sha256 if signoff.document else None)
    case = workflow.wrap_up_finish(user=p["pse"], wrap=wrap)
    billing.collection_remind(user=p["finance"], case=case, note="First reminder after 20 days overdue")
    message_post(user=p["finance"], thread=thread_for(opp), kind=Message.Kind.COMMENT,
                 body="Invoice is 20 days overdue; @sal can you nudge the customer?")


SCENARIOS: list[tuple[str, Callable]] = [
    ("Northwind Traders", scenario_scoping),
    ("Globex Corporation", scenario_rom_waiting),
    ("Initech", scenario_discovery),
    ("Umbrella Health", scenario_quote_sent),
    ("Stark Industries", scenario_sow_out),
    ("Wayne Enterprises", scenario_delivery),
    ("Hooli", scenario_sign_off),
    ("Acme Corp", scenario_collections),
]


def load_demo() -> list[str]:
    """Create what is missing and keep what is there: running it twice changes nothing. Returns the deals added."""
    people = ensure_users()
    added = []
    for account_name, build in SCENARIOS:
        if Account.objects.filter(name=account_name).exists():
            continue
        with transaction.atomic():
            build(people)
        added.append(account_name)
    return added
