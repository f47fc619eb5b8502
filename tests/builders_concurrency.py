"""Builders for tests that commit for real (`django_db(transaction=True)`): races on PostgreSQL and timers run by the
task worker. Every record goes through the real services, as in the lifecycle test.

A transactional test starts from whatever the previous one left, and Django empties every table after each one, so
the data the migrations load (roles, the approval policy, the calculator's tables) is put back first.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.crm.models import Contact, Opportunity, PSOpportunity
from psops.delivery import services as delivery
from psops.delivery.models import Project
from psops.estimating import services as estimating
from psops.estimating.defaults import load_default_tables
from psops.estimating.models import Rom
from psops.sales import services as sales
from psops.sales.models import Sow
from psops.workflow import services as workflow
from tests.factories import customer, make_deal, make_staff

# The marks of a race test: it commits for real, and runs on PostgreSQL only (skipped elsewhere, with what to run).
ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL: run with DATABASE_URL=postgres://psops:psops@127.0.0.1:5432/psops"),
]

# Under the 50,000 technical-review threshold, so the default policy asks only for 'rom-approval' (PS manager or
# Dir. CS): the band for up to 1,000 users and 500 projects.
SMALL_ROM = {"users": 100, "projects": 500}


def ensure_default_data() -> None:
    """Put back what the data migrations load, with the migrations' own code (each step is idempotent)."""
    importlib.import_module("psops.accounts.migrations.0002_roles").create_roles(apps, None)
    importlib.import_module("psops.approvals.migrations.0002_default_policy").load_default_policy(apps, None)
    load_default_tables()


def staff() -> dict:
    ensure_default_data()
    return make_staff()


@dataclass
class Deal:
    opportunity: Opportunity
    contact: Contact
    rom: Rom
    request: ApprovalRequest | None = None
    ps: PSOpportunity | None = None
    sow: Sow | None = None
    project: Project | None = None


def rom_waiting_for_approval(people: dict, *, name: str, segment: str = "large") -> Deal:
    """Steps 1-3: a deal in scoping with a small ROM submitted for approval (one 'rom-approval' requirement)."""
    sal, sa = people["sal"], people["sa"]
    _account, contact, opp = make_deal(people, name=name, segment=segment)
    crm.opportunity_move_stage(user=sal, opportunity=opp, stage="2-scoping")
    rom = estimating.rom_create(user=sa, opportunity=opp, template="sm-to-saas", answers=SMALL_ROM)
    request = approvals.rom_submit(user=sal, rom=rom)
    assert request is not None
    assert [r.code for r in request.requirements.all()] == ["rom-approval"]
    return Deal(opportunity=opp, contact=contact, rom=rom, request=request)


def sow_signed(people: dict, *, name: str) -> Deal:
    """Steps 1-9: the ROM approved, the PS opportunity opened, the quote accepted and the SOW signed."""
    sal, psm, pse = people["sal"], people["psmanager"], people["pse"]
    deal = rom_waiting_for_approval(people, name=name)
    assert deal.request is not None
    approvals.rom_decide(user=psm, request=deal.request, outcome="approve")
    deal.rom.refresh_from_db()
    ps = estimating.rom_open_ps_opportunity(user=sal, rom=deal.rom, name=f"{name} SaaS migration")
    buyer = customer(deal.contact)
    quote = sales.quote_create(user=sal, ps_opportunity=ps, valid_until=timezone.localdate() + dt.timedelta(30))
    assert sales.quote_submit(user=sal, quote=quote) is None
    sales.quote_send(user=sal, quote=quote, contact=deal.contact)
    sales.quote_accept(customer=buyer, quote=quote)
    sow = sales.sow_create(user=pse, quote=quote)
    sales.sow_submit_review(user=pse, sow=sow)
    sales.sow_review(user=psm, sow=sow, approve=True)
    sales.sow_send(user=pse, sow=sow, contact=deal.contact)
    sales.sow_sign(customer=buyer, sow=sow, name="Casey Customer", title="VP Engineering")
    ps.refresh_from_db()
    assert ps.stage == "sow-signed"
    deal.ps, deal.sow = ps, sow
    return deal


def project_in_delivery(people: dict, *, name: str) -> Deal:
    """Steps 1-13: won, staffed with `pse`, kicked off and in delivery."""
    psm, pse = people["psmanager"], people["pse"]
    deal = sow_signed(people, name=name)
    assert deal.ps is not None
    project = workflow.ps_opportunity_close_won(user=people["sal"], ps_opportunity=deal.ps)
    delivery.project_assign_engineer(user=psm, project=project, engineer=pse)
    delivery.project_kick_off(user=psm, project=project, kickoff_date=timezone.localdate(), budget_hours="40")
    delivery.project_start_delivery(user=psm, project=project)
    deal.project = project
    return deal


# --- Two people at once --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    value: Any = None
    refused: ApplicationError | None = None
    crashed: BaseException | None = None


def race(*contenders: Callable[[], Callable[[], Any]], timeout: float = 60) -> list[Outcome]:
    """Run the contenders in threads of their own, each on its own database connection.

    Each contender loads what it needs (its own copies of the records, as two browsers would) and returns the act;
    a barrier then lets every act go at the same moment. Each thread closes its connection when done, so none is
    left open on the test database.
    """
    barrier = threading.Barrier(len(contenders))
    outcomes = [Outcome() for _ in contenders]

    def run(index: int, prepare: Callable[[], Callable[[], Any]]) -> None:
        outcome = outcomes[index]
        try:
            act = prepare()
            barrier.wait(timeout=timeout)
            outcome.value = act()
        except ApplicationError as exc:
            outcome.refused = exc
        except BaseException as exc:  # reported by the test, which fails on it
            outcome.crashed = exc
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c), name=f"contender-{i}") for i, c in enumerate(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a contender did not finish: a deadlock?"
    crashed = [o.crashed for o in outcomes if o.crashed is not None]
    if crashed:
        raise crashed[0]
    return outcomes
