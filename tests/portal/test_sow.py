"""The customer signs the SOW (typed name and title; time, address, browser and content hash kept) or returns it
with changes, through their link."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.documents import services as documents
from psops.links.models import CustomerLink
from psops.sales import services as sales
from psops.sales.models import Sow, SowSignature
from tests.factories import db_state
from tests.portal.conftest import AGENT, IP, link_path

pytestmark = pytest.mark.django_db


def shown_hash(page: str) -> str:
    return re.search(r'name="content_hash" value="([0-9a-f]{64})"', page).group(1)


def sign(e, **extra):
    return {"action": "sign", "name": "Casey Customer", "title": "VP Engineering", **extra}


def test_the_page_shows_the_whole_sow_and_its_fingerprint(sent, client):
    e, path = sent("sow-sent")
    response = client.get(path)
    page = response.content.decode()
    assert response.status_code == 200
    sow = e.sow
    for text in (sow.title, str(sow), f"{sow.price:,}", sow.get_billing_terms_display(), sow.acceptance_terms[:40],
                 sow.out_of_scope, "Sign the statement of work", "Return with changes", "csrfmiddlewaretoken"):
        assert text in page, text
    assert shown_hash(page) == sow.content_hash() and page.count(sow.content_hash()) == 2  # shown and embedded


def test_signing_keeps_who_when_where_and_what(sent, client, customer_post):
    e, path = sent("sow-sent")
    page = client.get(path).content.decode()
    response = customer_post(path, sign(e, content_hash=shown_hash(page)))
    assert response.status_code == 200 and "You signed the statement of work" in response.content.decode()
    sow = Sow.objects.get(pk=e.sow.pk)
    signature = SowSignature.objects.get(sow=sow)
    assert sow.state == "signed"
    assert (signature.signed_name, signature.signed_title, signature.contact) == (
        "Casey Customer", "VP Engineering", e.contact)
    assert (signature.ip_address, signature.user_agent) == (IP, AGENT)
    assert signature.content_hash == shown_hash(page) == sow.content_hash() and signature.version == sow.version
    assert timezone.now() - signature.signed_at < dt.timedelta(minutes=1)
    event = TimelineEvent.objects.get(verb="sow.signed")
    # The document the page offered is the one recorded, byte for byte.
    shown = documents.current_document(sow, "sow")
    assert signature.document == shown and signature.document_sha256 == shown.sha256
    assert hashlib.sha256(documents.read_bytes(shown)).hexdigest() == shown.sha256
    assert event.data == {"hash": signature.content_hash, "ip": IP, "document_sha256": shown.sha256}
    e.ps.refresh_from_db()
    assert e.ps.stage == "sow-signed"
    assert CustomerLink.objects.get(purpose="sow").used_at is not None


def test_returning_with_changes_sends_it_back_to_draft(sent, customer_post):
    e, path = sent("sow-sent")
    response = customer_post(path, {"action": "changes", "changes": "Add a second training day"})
    assert response.status_code == 200 and "revised statement of work" in response.content.decode()
    sow = Sow.objects.get(pk=e.sow.pk)
    assert (sow.state, sow.version) == ("draft", 2)
    assert TimelineEvent.objects.filter(verb="sow.changes_requested", message__contains="second training").exists()
    assert CustomerLink.objects.get(purpose="sow").used_at is not None


def test_a_reused_link_is_gone(sent, client, customer_post):
    e, path = sent("sow-sent")
    customer_post(path, {"action": "changes", "changes": "Add a second training day"})
    before = db_state()
    response = customer_post(path, sign(e, content_hash=e.sow.content_hash()))
    assert response.status_code == 410 and client.get(path).status_code == 410
    assert db_state() == before and Sow.objects.get(pk=e.sow.pk).state == "draft"


def test_an_expired_link_is_gone(sent, client, customer_post):
    e, path = sent("sow-sent")
    CustomerLink.objects.filter(purpose="sow").update(expires_at=timezone.now())
    before = db_state()
    assert client.get(path).status_code == 410
    assert customer_post(path, sign(e, content_hash=e.sow.content_hash())).status_code == 410
    assert db_state() == before and Sow.objects.get(pk=e.sow.pk).state == "sent"


def test_an_altered_link_is_not_found(sent, customer_post):
    e, path = sent("sow-sent")
    altered = path.replace(path[5], "Z" if path[5] != "Z" else "Y", 1)
    before = db_state()
    assert customer_post(altered, sign(e, content_hash=e.sow.content_hash())).status_code == 404
    assert db_state() == before


def test_an_answer_for_another_purpose_is_refused(sent, customer_post):
    e, path = sent("sow-sent")
    before = db_state()
    assert customer_post(path, {"action": "accept"}).status_code == 400  # a quote's answer, not a SOW's
    assert db_state() == before


def test_a_replaced_link_is_gone_and_the_new_one_signs(sent, people, client, customer_post,
                                                       django_capture_on_commit_callbacks):
    e, first = sent("sow-sent")
    with django_capture_on_commit_callbacks(execute=True):
        sales.sow_resend(user=people["pse"], sow=e.sow)
    second = link_path(e.contact)
    assert TimelineEvent.objects.filter(verb="sow.resent").exists()
    before = db_state()
    assert customer_post(first, sign(e, content_hash=e.sow.content_hash())).status_code == 410
    assert db_state() == before
    assert customer_post(second, sign(e, content_hash=e.sow.content_hash())).status_code == 200
    assert Sow.objects.get(pk=e.sow.pk).state == "signed"


def test_a_signature_on_a_changed_text_is_refused_and_the_link_stays_usable(sent, client, customer_post):
    e, path = sent("sow-sent")
    before = db_state()
    response = customer_post(path, sign(e, content_hash="0" * 64))
    assert response.status_code == 400 and "The SOW changed since it was shown to you" in response.content.decode()
    assert db_state() == before and CustomerLink.objects.get(purpose="sow").used_at is None
    page = client.get(path).content.decode()
    assert customer_post(path, sign(e, content_hash=shown_hash(page))).status_code == 200


SHOWN = "the hash shown on the page"


@pytest.mark.parametrize("data", [
    {"action": "sign", "name": "", "title": "CTO", "content_hash": SHOWN},
    {"action": "sign", "name": "Casey", "title": "   ", "content_hash": SHOWN},
    {"action": "sign", "name": "Casey", "title": "CTO"},  # no content hash: nothing to bind the signature to
    {"action": "sign", "name": "Casey", "title": "CTO", "content_hash": "abc"},
    {"action": "changes", "changes": ""},
])
def test_incomplete_answers_are_refused_beside_the_field(sent, client, customer_post, data):
    e, path = sent("sow-sent")
    if data.get("content_hash") == SHOWN:
        data = {**data, "content_hash": shown_hash(client.get(path).content.decode())}
    before = db_state()
    response = customer_post(path, data)
    assert response.status_code == 400 and "Please check the fields marked below" in response.content.decode()
    assert db_state() == before
