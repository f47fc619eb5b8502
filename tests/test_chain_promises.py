"""One regression test per hole the engagement chain had (issue: the chain keeps its promises). Each failed on the
code before the fix; docs/decisions/0004-chain-commitments.md says where each rule now lives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from psops.approvals import services as approvals
from psops.core.errors import ApplicationError
from psops.crm import services as crm
from psops.crm.models import PSOpportunity
from psops.estimating import services as estimating
from psops.estimating.models import RomVersion
from psops.sales import services as sales
from psops.sales.models import Quote, Sow
from psops.workflow import invariants

from .factories import assert_refused, make_staff, reach

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return make_staff()


def _valid():
    return timezone.localdate() + dt.timedelta(days=30)


def test_a_quote_above_the_approved_rom_is_refused(people):
    e = reach(people, "rom-approved")  # approved at 30,000 - 40,000
    error = assert_refused(lambda: sales.quote_create(user=people["sal"], ps_opportunity=e.ps, valid_until=_valid(),
                                                      items=[("GL-ENGR-12", 2)]), "quote-above-rom")
    assert "approved ROM" in error.message


def test_the_ps_amount_is_frozen_once_the_quote_is_accepted(people):
    e = reach(people, "quote-accepted")
    assert_refused(lambda: crm.ps_opportunity_set_amount(user=people["sal"], ps_opportunity=e.ps, ps_amount="95000"),
                   "ps-amount-committed")
    e.ps.refresh_from_db()
    assert e.ps.ps_amount == e.quote.total


def test_a_rom_cannot_be_revised_under_a_quote_with_the_customer(people):
    e = reach(people, "quote-sent")
    assert_refused(lambda: estimating.rom_revise(user=people["sa"], rom=e.rom,
                                                 answers={"users": 800, "projects": 500, "large_repos": 0}),
                   "rom-committed")


def test_one_live_quote_per_ps_opportunity(people):
    e = reach(people, "quote-approved")
    second = sales.quote_create(user=people["sal"], ps_opportunity=e.ps, valid_until=_valid())
    assert_refused(lambda: sales.quote_submit(user=people["sal"], quote=second), "quote-live-exists")
    # Below the services, the partial unique index holds the same line.
    with pytest.raises(IntegrityError), transaction.atomic():
        Quote.objects.filter(pk=second.pk).update(state="approved")
    # Withdrawing the first lets the second go.
    sales.quote_withdraw(user=people["sal"], quote=e.quote, reason="New scope")
    sales.quote_submit(user=people["sal"], quote=second)
    assert Quote.objects.get(pk=second.pk).state == "approved"
    assert not invariants.violations()


def test_a_withdrawn_sent_quote_cannot_be_accepted(people):
    e = reach(people, "quote-sent")
    sales.quote_withdraw(user=people["sal"], quote=e.quote, reason="Pricing error")
    e.quote.refresh_from_db()
    assert_refused(lambda: sales.quote_accept(customer=e.buyer, quote=e.quote), "quote-not-open")
    e.ps.refresh_from_db()
    assert e.ps.stage == "approved"


def test_the_engagement_managers_estimate_prices_a_rom_outside_the_matrix(people):
    e = reach(people, "deal")
    rom = estimating.rom_create(user=people["sa"], opportunity=e.opp, template="sm-to-saas",
                                answers={"users": 4000, "projects": 500, "large_repos": 0})
    assert rom.current.high is None
    assert_refused(lambda: approvals.rom_submit(user=people["sal"], rom=rom), "rom-unpriced")
    assert_refused(lambda: estimating.rom_estimate_manual(user=people["sal"], rom=rom, low="1", high="2", note="x"),
                   "forbidden")
    version = estimating.rom_estimate_manual(user=people["psmanager"], rom=rom, low="60000", high="80000",
                                             note="Three waves of 1,300 users")
    assert (version.low, version.high, version.created_by) == (Decimal("60000"), Decimal("80000"),
                                                               people["psmanager"])
    request = approvals.rom_submit(user=people["sal"], rom=rom)
    # The estimator cannot approve their own estimate; another approver does.
    assert_refused(lambda: approvals.rom_decide(user=people["psmanager"], request=request, outcome="approve"),
                   "segregation-of-duties")
    approvals.rom_decide(user=people["dircs"], request=request, outcome="approve")
    approvals.rom_decide(user=people["ta"], request=request, outcome="approve")  # over $50,000
    rom.refresh_from_db()
    assert rom.status == "approved" and rom.approved_version_id == version.pk


def test_a_rejected_rom_opens_nothing(people):
    e = reach(people, "deal")
    rom = estimating.rom_create(user=people["sa"], opportunity=e.opp, template="sm-to-saas",
                                answers={"users": 100, "projects": 500, "large_repos": 0})
    request = approvals.rom_submit(user=people["sal"], rom=rom)
    approvals.rom_decide(user=people["psmanager"], request=request, outcome="reject", comment="Out of scope")
    rom.refresh_from_db()
    assert_refused(lambda: estimating.rom_open_ps_opportunity(user=people["sal"], rom=rom), "rom-rejected")


def test_each_rejected_rom_is_judged_by_its_own_rejection(people):
    """Regression: the invariant read every rejected ROM's rejection date through the wrong outer reference, so a
    PS opportunity opened before its own ROM was rejected looked opened after "a" rejection."""
    first = reach(people, "rom-submitted")
    approvals.rom_decide(user=people["psmanager"], request=first.rom_request, outcome="reject", comment="No")
    # Another ROM in between, so ROM and request ids no longer run side by side (the wrong reference matched them).
    estimating.rom_create(user=people["sa"], opportunity=first.opp, template="sm-to-saas",
                          answers={"users": 100, "projects": 500, "large_repos": 0})
    second = reach(people, "rom-submitted", name="Second Co")  # its PS opportunity opens after the first rejection
    approvals.rom_decide(user=people["psmanager"], request=second.rom_request, outcome="reject", comment="No")
    assert list(invariants.rom_opens_nothing()) == []
    # A PS opportunity dated after its own ROM's rejection is found.
    PSOpportunity.objects.filter(pk=second.ps.pk).update(created_at=timezone.now() + dt.timedelta(days=1))
    found = list(invariants.rom_opens_nothing())
    assert [v.subject for v in found] == [f"PS opportunity {second.ps.pk}"]


def test_a_stale_page_cannot_open_a_second_ps_opportunity(people):
    e = reach(people, "rom")
    stale = type(e.rom).objects.get(pk=e.rom.pk)  # as a second tab loaded it
    estimating.rom_open_ps_opportunity(user=people["sal"], rom=e.rom)
    assert_refused(lambda: estimating.rom_open_ps_opportunity(user=people["sal"], rom=stale), "ps-exists")
    assert PSOpportunity.objects.count() == 1


def test_closing_the_parent_lost_closes_its_open_ps_children(people):
    e = reach(people, "quote-sent")
    crm.opportunity_move_stage(user=people["sal"], opportunity=e.opp, stage="9-unqualified")
    e.ps.refresh_from_db()
    assert e.ps.stage == "closed-lost" and "9-Unqualified" in e.ps.loss_note
    assert_refused(lambda: sales.quote_accept(customer=e.buyer, quote=Quote.objects.get(pk=e.quote.pk)),
                   "ps-closed", "parent-closed")
    assert not invariants.violations()


def test_a_parent_with_a_signed_sow_is_not_closed_lost(people):
    e = reach(people, "sow-signed")
    assert_refused(lambda: crm.opportunity_move_stage(user=people["sal"], opportunity=e.opp, stage="8-closed-lost"),
                   "ps-committed")


def test_an_approved_rom_version_never_changes(people):
    e = reach(people, "rom-approved")
    version = RomVersion.objects.get(pk=e.rom.approved_version_id)
    version.high += 1
    with pytest.raises(ApplicationError):
        version.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        RomVersion.objects.filter(pk=version.pk).update(high=Decimal("99999"))
    assert RomVersion.objects.get(pk=version.pk).high == Decimal("40000")


def test_a_signature_covers_the_hourly_rate_and_a_signed_sow_never_changes(people):
    e = reach(people, "sow-signed", billing_terms="time-and-materials")
    sow = Sow.objects.get(pk=e.sow.pk)
    assert sow.signature.hash_scheme == 2 and "hourly_rate" in sow.content(2)
    assert sow.terms_not_covered(sow.signature) == [] and sow.integrity_warning() == ""
    with pytest.raises(IntegrityError), transaction.atomic():
        Sow.objects.filter(pk=sow.pk).update(hourly_rate=Decimal("999"))
    with pytest.raises(ApplicationError):
        sow.save()


def test_a_sow_altered_after_signing_is_flagged_on_its_pages(people, client):
    e = reach(people, "sow-signed")
    sow = Sow.objects.get(pk=e.sow.pk)
    from django.db import connection

    with connection.cursor() as cursor:  # the kind of edit the triggers exist to stop; simulate one that got past
        cursor.execute("DROP TRIGGER IF EXISTS sow_signed_fixed_update" +
                       (" ON sales_sow" if connection.vendor == "postgresql" else ""))
        cursor.execute("UPDATE sales_sow SET scope = scope || ' and more' WHERE id = %s", [sow.pk])
    sow.refresh_from_db()
    assert "Altered after signing" in sow.integrity_warning()
    assert [v.invariant for v in invariants.violations()] == ["signature-covers"]
    client.force_login(people["pse"])
    page = client.get(reverse("web:sow", args=[sow.pk])).content.decode()
    assert "Altered after signing" in page


def test_the_page_says_why_the_ps_manager_cannot_approve_non_standard_terms(people, client):
    e = reach(people, "sow-in-review", billing_terms="50-50")
    client.force_login(people["psmanager"])
    page = client.get(reverse("web:sow", args=[e.sow.pk])).content.decode()
    assert "need the Director of PS" in page and "disabled" in page
    response = client.post(reverse("web:act", args=["sow", e.sow.pk, "approve"]))
    assert response.status_code == 403 and "need the Director of PS" in response.content.decode()
    assert Sow.objects.get(pk=e.sow.pk).state == "in-review"
    sales.sow_review(user=people["dirps"], sow=e.sow, approve=True)
    sow = Sow.objects.get(pk=e.sow.pk)
    assert sow.review_policy is not None and sow.review_policy.is_active


def test_milestones_are_entered_on_the_sow_page(people, client):
    e = reach(people, "sow", billing_terms="milestones")
    client.force_login(people["pse"])
    url = reverse("web:act", args=["sow", e.sow.pk, "milestones"])
    bad = client.post(url, {"milestones-milestones": "Design | 40%\nBuild | 10"})
    assert bad.status_code == 400 and "add up to" in bad.content.decode()
    good = client.post(url, {"milestones-milestones": "Design | 40% | 2027-02-15\nBuild | 60% | 2027-04-30"})
    assert good.status_code == 302
    milestones = list(Sow.objects.get(pk=e.sow.pk).milestones.all())
    assert [m.name for m in milestones] == ["Design", "Build"]
    assert sum(m.amount for m in milestones) == e.sow.price
    assert milestones[0].due_date == dt.date(2027, 2, 15)
    sales.sow_submit_review(user=people["pse"], sow=Sow.objects.get(pk=e.sow.pk))


def test_change_orders_move_the_ps_amount(people):
    from psops.workflow import services as workflow

    e = reach(people, "won")
    before = PSOpportunity.objects.get(pk=e.ps.pk).ps_amount
    workflow.change_order_add(user=people["psmanager"], project=e.project, description="Extra wave", amount="5000")
    assert PSOpportunity.objects.get(pk=e.ps.pk).ps_amount == before + 5000
    assert not invariants.violations()


def test_the_integrity_page_is_the_administrators_and_shows_broken_promises(people, client):
    from django.core.management import CommandError, call_command

    e = reach(people, "rom-approved")
    client.force_login(people["sal"])
    assert client.get(reverse("web:integrity")).status_code == 403
    client.force_login(people["admin"])
    page = client.get(reverse("web:integrity")).content.decode()
    assert "Every promise holds" in page and "one-live-quote" in page
    call_command("invariants")  # exits 0
    # A promise broken by hand (the kind of edit no service allows) shows on the page and fails the command.
    PSOpportunity.objects.filter(pk=e.ps.pk).update(stage="quoted")
    crm_parent = e.opp
    type(crm_parent).objects.filter(pk=crm_parent.pk).update(stage="8-closed-lost")
    page = client.get(reverse("web:integrity")).content.decode()
    assert "1 broken promise found" in page and "parent-alive" in page
    with pytest.raises(CommandError):
        call_command("invariants")
