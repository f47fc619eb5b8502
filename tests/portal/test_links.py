"""The link itself: signed, hashed, expiring, single-purpose, single-use, replaced by a fresh one."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core import mail
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.core.business_days import last_day
from psops.core.errors import ApplicationError
from psops.links import services as links
from psops.links.models import CustomerLink
from psops.sales import services as sales
from tests.factories import assert_refused, db_state
from tests.portal.conftest import link_path, token_of

pytestmark = pytest.mark.django_db


def test_a_sent_quote_e_mails_one_link_stored_only_as_a_hash(sent, settings):
    e, path = sent("quote-sent")
    token = token_of(path)
    raw = token.rsplit(".", 1)[0]
    link = CustomerLink.objects.get()
    assert (link.purpose, link.subject, link.contact, link.email) == ("quote", e.quote, e.contact, e.contact.email)
    assert link.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(db_state())  # the token itself is nowhere in the database
    # A quote's link lives as long as the quote may be accepted: to the end of its last valid day.
    assert last_day(link.expires_at) == e.quote.valid_until
    message = [m for m in mail.outbox if e.contact.email in m.to][-1]
    assert message.subject.startswith(f"Quote {e.quote}")
    assert f"It works once, until the end of {e.quote.valid_until:%Y-%m-%d}." in message.body
    assert message.body.count(settings.PSOPS["BASE_URL"]) == 1


def test_link_days_come_from_settings(sent, settings):
    """Other links live LINK_DAYS whole days after the day they are sent."""
    settings.PSOPS = {**settings.PSOPS, "LINK_DAYS": 3}
    e, _ = sent("sow-sent")
    link = CustomerLink.objects.get(purpose="sow")
    assert last_day(link.expires_at) == timezone.localdate() + dt.timedelta(days=3)
    assert timezone.localtime(link.expires_at).time() == dt.time.min


def test_no_e_mail_leaves_before_the_send_commits(people):
    from tests.factories import reach

    reach(people, "quote-sent")  # the test's transaction never commits
    assert CustomerLink.objects.count() == 1 and mail.outbox == []


def test_a_refused_send_issues_no_link(sent, people):
    e, _ = sent("quote-sent")
    assert_refused(lambda: sales.quote_send(user=people["sal"], quote=e.quote, contact=e.contact),
                   "quote-not-approved")
    assert CustomerLink.objects.count() == 1


def test_an_altered_token_is_refused_before_any_query(sent, django_assert_num_queries):
    _, path = sent("quote-sent")
    token = token_of(path)
    raw, signature = token.rsplit(".", 1)
    flipped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for bad in (f"{flipped}.{signature}", f"{raw}.{signature[:-2]}", raw, "", "x" * 500, token + "x"):
        with django_assert_num_queries(0), pytest.raises(links.LinkRefused) as refused:
            links.link_resolve(bad)
        assert refused.value.code == "link-unknown"
    assert links.link_resolve(token).purpose == "quote"


def test_a_link_resolves_only_for_its_own_purpose(sent):
    _, path = sent("quote-sent")
    token = token_of(path)
    assert links.link_resolve(token, purpose="quote").purpose == "quote"
    for purpose in ("sow", "completion", "sign-off"):
        with pytest.raises(links.LinkRefused) as refused:
            links.link_resolve(token, purpose=purpose)
        assert refused.value.code == "link-unknown"
    # The same random token signed for another purpose (only possible with the secret key) finds no link either.
    raw = token.rsplit(".", 1)[0]
    forged = links._signer("sow").sign(raw)
    with pytest.raises(links.LinkRefused) as refused:
        links.link_resolve(forged)
    assert refused.value.code == "link-unknown"


def test_used_revoked_and_expired_links_are_refused_with_their_own_code(sent):
    _, path = sent("quote-sent")
    token = token_of(path)
    link = CustomerLink.objects.get()
    CustomerLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(links.LinkRefused) as refused:
        links.link_resolve(token)
    assert refused.value.code == "link-expired" and refused.value.link == link
    CustomerLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
    with pytest.raises(links.LinkRefused) as refused:
        links.link_resolve(token)
    assert refused.value.code == "link-revoked"


def test_a_link_is_consumed_once(sent):
    _, path = sent("quote-sent")
    link = links.link_resolve(token_of(path))
    links.link_consume(link)
    with pytest.raises(links.LinkRefused) as refused:
        links.link_consume(link)
    assert refused.value.code == "link-used"
    with pytest.raises(links.LinkRefused) as refused:
        links.link_resolve(token_of(path))
    assert refused.value.code == "link-used"


def test_a_refused_act_leaves_the_link_unused(sent):
    _, path = sent("quote-sent")
    link = links.link_resolve(token_of(path))
    before = db_state()

    def refused_act():
        raise ApplicationError(code="quote-expired", message="Too late.")

    with pytest.raises(ApplicationError):
        links.link_use(link, refused_act)
    assert db_state() == before and link.used_at is None
    assert CustomerLink.objects.get().used_at is None


def test_resending_replaces_the_earlier_link(sent, people, django_capture_on_commit_callbacks):
    e, first = sent("quote-sent")
    events = TimelineEvent.objects.filter(verb="quote.resent").count()
    with django_capture_on_commit_callbacks(execute=True):
        sales.quote_resend(user=people["sal"], quote=e.quote)
    second = link_path(e.contact)
    assert second != first and link_path(e.contact, nth_last=2) == first
    old, new = CustomerLink.objects.order_by("id")
    assert old.revoked_at is not None and new.revoked_at is None and new.used_at is None
    assert TimelineEvent.objects.filter(verb="quote.resent").count() == events + 1
    with pytest.raises(links.LinkRefused) as refused:
        links.link_resolve(token_of(first))
    assert refused.value.code == "link-revoked"
    assert links.link_resolve(token_of(second)) == new


def test_only_the_sender_may_resend_and_only_while_it_waits(sent, people):
    e, _ = sent("quote-sent")
    assert_refused(lambda: sales.quote_resend(user=people["pse"], quote=e.quote), "forbidden")
    e2, _ = sent("sow-signed", name="Initech")
    assert_refused(lambda: sales.sow_resend(user=people["pse"], sow=e2.sow), "sow-not-sent")
    assert_refused(lambda: sales.quote_resend(user=people["sal"], quote=e2.quote), "quote-not-open")


def test_an_unknown_purpose_or_a_contact_without_e_mail_is_refused(sent):
    e, _ = sent("quote-sent")
    with pytest.raises(ApplicationError) as refused:
        links.link_issue(subject=e.quote, purpose="invoice", contact=e.contact, email_to=e.contact.email, text="x")
    assert refused.value.code == "invalid-purpose"
    with pytest.raises(ApplicationError) as refused:
        links.link_issue(subject=e.quote, purpose="quote", contact=e.contact, email_to="", text="x")
    assert refused.value.code == "no-email"
