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
