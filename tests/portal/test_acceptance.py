"""Completion acceptance (step 14) and sign-off (step 15) through the customer's link."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project
from psops.links.models import CustomerLink
from tests.factories import assert_refused, db_state
from tests.portal.conftest import AGENT, IP, link_path

pytestmark = pytest.mark.django_db

SIGN = {"name": "Casey Customer", "title": "VP Engineering"}


def fresh(request: AcceptanceRequest) -> AcceptanceRequest:
    return AcceptanceRequest.objects.get(pk=request.pk)


# --- Completion acceptance ----------------------------------------------------------------------------------------


def test_the_completion_page_shows_the_work_and_the_deadline(sent, client):
    e, path = sent("completion-asked")
    page = client.get(path).content.decode()
    deadline = timezone.localtime(e.completion.passive_at).date() - dt.timedelta(days=1)
    for text in (e.project.name, e.project.sow.title, f'by the end of <time datetime="{deadline:%Y-%m-%d}"',
                 f">{deadline:%Y-%m-%d}</time>", "business days)", "Accept as complete", "Not complete"):
        assert text in page, text
    # The customer has no home here: the name in the header is not a link to the staff login.
    assert '<span class="brand">psops</span>' in page and 'class="brand" href' not in page


def test_accepting_completion_completes_the_project(sent, customer_post):
    e, path = sent("completion-asked")
    response = customer_post(path, {"action": "accept", **SIGN})
    assert response.status_code == 200 and "You accepted the work as complete" in response.content.decode()
    request, project = fresh(e.completion), Project.objects.get(pk=e.project.pk)
    assert (request.state, request.signed_name, request.signed_title) == ("accepted", *SIGN.values())
    assert (request.ip_address, request.user_agent) == (IP, AGENT)
    assert (project.state, project.percent_complete, project.acceptance) == ("completed", 100, "signed")
    assert TimelineEvent.objects.filter(verb="project.completed", message__contains="Casey Customer").exists()
    assert CustomerLink.objects.get(purpose="completion").used_at is not None


def test_not_complete_reopens_delivery(sent, customer_post):
    e, path = sent("completion-asked")
    response = customer_post(path, {"action": "reject", "reason": "The SSO integration is missing"})
    assert response.status_code == 200
    request, project = fresh(e.completion), Project.objects.get(pk=e.project.pk)
    assert (request.state, request.note, request.ip_address) == ("rejected", "The SSO integration is missing", IP)
    assert (project.state, project.percent_complete) == ("in-delivery", 95)
    assert TimelineEvent.objects.filter(verb="project.in-delivery", message__contains="SSO integration").exists()


def test_completion_link_reused_expired_altered_or_misused_changes_nothing(sent, client, customer_post):
    e, path = sent("completion-asked")
    before = db_state()
    assert customer_post(path, {"action": "sign", **SIGN}).status_code == 400  # a sign-off answer
    assert customer_post(path, {"action": "accept", "name": "Casey"}).status_code == 400  # no title
    assert customer_post(path.replace("/c/", "/c/x"), {"action": "accept", **SIGN}).status_code == 404
    assert db_state() == before
    CustomerLink.objects.update(expires_at=timezone.now())
    assert customer_post(path, {"action": "accept", **SIGN}).status_code == 410
    assert fresh(e.completion).state == "pending"
    CustomerLink.objects.update(expires_at=timezone.now() + dt.timedelta(days=1))
    assert customer_post(path, {"action": "accept", **SIGN}).status_code == 200
    after = db_state()
    response = customer_post(path, {"action": "reject", "reason": "Changed my mind"})
    assert response.status_code == 410 and client.get(path).status_code == 410
    assert db_state() == after and fresh(e.completion).state == "accepted"


def test_completion_link_replaced_by_a_resend(sent, people, customer_post, django_capture_on_commit_callbacks):
    e, first = sent("completion-asked")
    assert_refused(lambda: delivery.acceptance_resend(user=people["sal"], request=e.completion), "forbidden")
    with django_capture_on_commit_callbacks(execute=True):
        delivery.acceptance_resend(user=people["pse"], request=e.completion)
    second = link_path(e.contact)
    assert fresh(e.completion).passive_at == e.completion.passive_at  # the deadline does not move
    assert TimelineEvent.objects.filter(verb="completion.resent").exists()
    before = db_state()
    assert customer_post(first, {"action": "accept", **SIGN}).status_code == 410
    assert db_state() == before
    assert customer_post(second, {"action": "accept", **SIGN}).status_code == 200


def test_completion_already_accepted_passively_is_a_clear_refusal(sent, client, customer_post):
    e, path = sent("completion-asked")
    assert delivery.acceptance_passive(request_id=e.completion.pk, now=e.completion.passive_at)
    assert "already answered" in client.get(path).content.decode()
    before = db_state()
    response = customer_post(path, {"action": "accept", **SIGN})
    assert response.status_code == 400 and "already answered (accepted passively)" in response.content.decode()
    assert db_state() == before and CustomerLink.objects.get(purpose="completion").used_at is None


# --- Sign-off -------------------------------------------------------------------------------------------------


def test_signing_off_keeps_name_title_address_and_browser(sent, client, customer_post):
    e, path = sent("wrap-up-ready")
    page = client.get(path).content.decode()
    assert "Sign the sign-off document" in page and "Accepted" in page
    response = customer_post(path, {"action": "sign", **SIGN})
    assert response.status_code == 200 and "You signed the sign-off document" in response.content.decode()
    request = fresh(e.sign_off)
    assert (request.state, request.signed_name, request.signed_title) == ("accepted", *SIGN.values())
    assert (request.ip_address, request.user_agent) == (IP, AGENT)
    assert TimelineEvent.objects.filter(verb="sign_off.signed").exists()
    assert CustomerLink.objects.get(purpose="sign-off").used_at is not None


def test_a_plain_accepted_reply_counts_as_sign_off(sent, customer_post):
    e, path = sent("wrap-up-ready")
    response = customer_post(path, {"action": "reply"})
    assert response.status_code == 200 and "You accepted the sign-off document" in response.content.decode()
    request = fresh(e.sign_off)
    assert (request.state, request.note, request.ip_address, request.user_agent) == ("replied", "Accepted", IP,
                                                                                       AGENT)
    assert request.is_accepted
    event = TimelineEvent.objects.get(verb="sign_off.replied")
    assert event.data == {"ip": IP, "user_agent": AGENT} and e.contact.email in event.actor_label


def test_sign_off_link_reused_expired_altered_or_misused_changes_nothing(sent, client, customer_post):
    e, path = sent("wrap-up-ready")
    before = db_state()
    assert customer_post(path, {"action": "reject", "reason": "no"}).status_code == 400  # a completion answer
    assert customer_post(path, {"action": "sign", "title": "CTO"}).status_code == 400  # no name
    assert client.get(path[:-5] + "/").status_code == 404
    assert db_state() == before
    CustomerLink.objects.filter(purpose="sign-off").update(expires_at=timezone.now())
    assert customer_post(path, {"action": "reply"}).status_code == 410
    assert fresh(e.sign_off).state == "pending"
    CustomerLink.objects.filter(purpose="sign-off").update(expires_at=timezone.now() + dt.timedelta(days=9))
    assert customer_post(path, {"action": "reply"}).status_code == 200
    after = db_state()
    assert customer_post(path, {"action": "sign", **SIGN}).status_code == 410
    assert db_state() == after and fresh(e.sign_off).state == "replied"


def test_sign_off_link_replaced_by_a_resend(sent, people, customer_post, django_capture_on_commit_callbacks):
    e, first = sent("wrap-up-ready")
    assert_refused(lambda: delivery.acceptance_resend(user=people["pse"], request=e.sign_off), "forbidden")
    with django_capture_on_commit_callbacks(execute=True):
        delivery.acceptance_resend(user=people["tam"], request=e.sign_off)
    second = link_path(e.contact)
    before = db_state()
    assert customer_post(first, {"action": "reply"}).status_code == 410
    assert db_state() == before
    assert customer_post(second, {"action": "reply"}).status_code == 200


def test_sign_off_already_recorded_by_the_sales_rep_is_a_clear_refusal(sent, people, customer_post):
    e, path = sent("wrap-up-ready")
    delivery.sign_off_record_reply(user=people["sal"], request=e.sign_off, reply="Accepted, thanks!")
    before = db_state()
    response = customer_post(path, {"action": "sign", **SIGN})
    assert response.status_code == 400 and "already answered" in response.content.decode()
    assert db_state() == before and CustomerLink.objects.get(purpose="sign-off").used_at is None
