"""Two browsers answer through the same link at the same moment: exactly one answer counts.

Needs PostgreSQL's row locks, as tests/test_concurrency.py; skipped on SQLite.
"""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.approvals import services as approvals
from psops.crm.models import Contact
from psops.estimating import services as estimating
from psops.links.models import CustomerLink
from psops.links.services import link_resolve, link_use
from psops.sales import services as sales
from psops.sales.models import Quote
from tests.builders_concurrency import race, rom_waiting_for_approval, staff
from tests.factories import customer
from tests.portal.conftest import link_path, token_of

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL: run with DATABASE_URL=postgres://psops:psops@127.0.0.1:5432/psops"),
]


def answer(token: str, verb: str):
    """A browser of its own: its own copies of the link and the quote, then the answer."""

    def prepare():
        link = link_resolve(token)
        quote = Quote.objects.get(pk=link.subject_id)
        buyer = customer(Contact.objects.get(pk=link.contact_id))
        if verb == "accept":
            return lambda: link_use(link, lambda: sales.quote_accept(customer=buyer, quote=quote))
        return lambda: link_use(link, lambda: sales.quote_decline(customer=buyer, quote=quote, reason="race"))

    return prepare


def test_two_answers_through_one_link_at_once():
    people = staff()
    for round_ in range(3):
        deal = rom_waiting_for_approval(people, name=f"Link Race {round_}")
        approvals.rom_decide(user=people["psmanager"], request=deal.request, outcome="approve")
        deal.rom.refresh_from_db()
        ps = estimating.rom_open_ps_opportunity(user=people["sal"], rom=deal.rom)
        quote = sales.quote_create(user=people["sal"], ps_opportunity=ps,
                                   valid_until=timezone.localdate() + dt.timedelta(days=30))
        sales.quote_submit(user=people["sal"], quote=quote)
        quote.refresh_from_db()
        sales.quote_send(user=people["sal"], quote=quote, contact=deal.contact)  # commits: the e-mail goes out
        token = token_of(link_path(deal.contact))

        outcomes = race(answer(token, "accept"), answer(token, "decline"))

        winners = [o for o in outcomes if o.refused is None]
        losers = [o for o in outcomes if o.refused is not None]
        assert len(winners) == 1 and len(losers) == 1, f"round {round_}: {outcomes}"
        assert losers[0].refused.code in ("link-used", "conflict"), losers[0].refused
        final = Quote.objects.get(pk=quote.pk)
        assert final.state in ("accepted", "declined") and final.state == winners[0].value.state
        answered = TimelineEvent.objects.filter(subject_id=quote.pk, verb__in=["quote.accepted", "quote.declined"])
        assert answered.count() == 1
        assert CustomerLink.objects.get(subject_id=quote.pk, purpose="quote").used_at is not None
        mail.outbox.clear()
