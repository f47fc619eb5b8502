"""Bring a deal to a given step through the real services (shared by property and invariant tests)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from psops.approvals import services as approvals
from psops.estimating import services as estimating
from psops.sales import services as sales
from psops.workflow import services as workflow
from tests.factories import customer


def approved_ps(people, opp, *, answers=None):
    rom = estimating.rom_create(user=people["sa"], opportunity=opp, template="sm-to-saas",
                                answers=answers or {"users": 100, "projects": 500})
    request = approvals.rom_submit(user=people["sal"], rom=rom)
    ps = estimating.rom_open_ps_opportunity(user=people["sal"], rom=rom)
    approvals.rom_decide(user=people["psmanager"], request=request, outcome="approve")
    ps.refresh_from_db()
    return ps


def signed_project(people, opp, contact, *, billing_terms="full-on-signature", answers=None):
    """A Closed Won PS opportunity's project, with the SOW signed on the given billing terms."""
    ps = approved_ps(people, opp, answers=answers)
    quote = sales.quote_create(user=people["sal"], ps_opportunity=ps, billing_terms=billing_terms,
                               valid_until=timezone.localdate() + dt.timedelta(days=30))
    request = sales.quote_submit(user=people["sal"], quote=quote)
    if request is not None:
        sales.quote_decide(user=people["dirps"], request=request, outcome="approve")
    quote.refresh_from_db()
    sales.quote_send(user=people["sal"], quote=quote, contact=contact)
    sales.quote_accept(customer=customer(contact), quote=quote)
    sow = sales.sow_create(user=people["pse"], quote=quote)
    sales.sow_submit_review(user=people["pse"], sow=sow)
    reviewer = people["psmanager"] if billing_terms == "full-on-signature" else people["dirps"]
    sales.sow_review(user=reviewer, sow=sow, approve=True)
    sales.sow_send(user=people["pse"], sow=sow, contact=contact)
    sales.sow_sign(customer=customer(contact), sow=sow, name=contact.name, title="CTO")
    ps.refresh_from_db()
    return workflow.ps_opportunity_close_won(user=people["sal"], ps_opportunity=ps)
