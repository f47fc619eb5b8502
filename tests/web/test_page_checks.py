"""The last acts that asked a page-only rule now ask the service's own check: moving a deal's stage, adding a
contact, ticking and finishing the wrap-up, deciding a write-off. The page offers, disables (with the check's words)
or hides each act exactly as the service would accept or refuse it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from psops.billing.models import WriteOff
from psops.crm.models import Contact
from psops.delivery.models import Project, WrapUp
from tests.factories import STAGES, assert_refused, db_state, reach

pytestmark = pytest.mark.django_db


def act_url(model: str, pk: int, code: str) -> str:
    return f"/r/{model}/{pk}/act/{code}/"


def url_of(record) -> str:
    return reverse(f"web:{record._meta.model_name}", args=[record.pk])


def page(client, user, url: str) -> str:
    client.force_login(user)
    return client.get(url).content.decode()


def test_finishing_the_wrap_up_is_shown_disabled_with_what_is_left(people, client):
    e = reach(people, "wrap-up")
    url = url_of(e.project)
    html = page(client, people["pse"], url)
    assert "Finish the wrap-up" in html and 'aria-describedby="why-wrap-finish"' in html
    assert "Still to do: Project summary sent to the customer; Sign-off document sent; " in html
    before = db_state()
    response = client.post(act_url("project", e.project.pk, "wrap-finish"))
    assert response.status_code == 400 and "Still to do: " in response.content.decode()
    assert db_state() == before
    # Every item done: offered, and it wraps the project up.
    STAGES["wrap-up-ready"][1](e)
    html = page(client, people["pse"], url)
    assert "Finish the wrap-up" in html and 'aria-describedby="why-wrap-finish"' not in html
    assert client.post(act_url("project", e.project.pk, "wrap-finish")).status_code == 302
    assert Project.objects.get(pk=e.project.pk).state == Project.State.WRAPPED_UP
    assert WrapUp.objects.get(project=e.project).completed_at is not None
    # Done: neither wrap-up act is offered any more, and a forged tick is refused.
    html = page(client, people["pse"], url)
    assert "Tick a wrap-up item" not in html and "Finish the wrap-up" not in html
    assert client.post(act_url("project", e.project.pk, "wrap-item"), {"wrap-item-code": "documents"}
                       ).status_code == 409


def test_an_automatic_wrap_up_item_is_refused_beside_its_field(people, client):
    e = reach(people, "wrap-up")
    client.force_login(people["pse"])
    before = db_state()
    response = client.post(act_url("project", e.project.pk, "wrap-item"), {"wrap-item-code": "final-invoice"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert db_state() == before
    response = client.post(act_url("project", e.project.pk, "wrap-item"), {"wrap-item-code": "documents"})
    assert response.status_code == 302
    assert e.wrap.items.get(code="documents").done_at is not None
    again = client.post(act_url("project", e.project.pk, "wrap-item"), {"wrap-item-code": "documents"})
    assert again.status_code == 400 and "is done already" in again.content.decode()


def test_somebody_outside_delivery_is_never_offered_the_wrap_up(people, client):
    e = reach(people, "wrap-up")
    html = page(client, people["finance"], url_of(e.project))
    assert "Tick a wrap-up item" not in html and "Finish the wrap-up" not in html
    before = db_state()
    assert client.post(act_url("project", e.project.pk, "wrap-finish")).status_code == 403
    assert db_state() == before


def test_the_controller_who_proposed_a_write_off_sees_why_they_cannot_decide_it(people, client):
    """In a small firm one person may hold Finance and Controller: they propose, and somebody else decides."""
    from psops.accounts import roles
    from psops.accounts.services import user_ensure
    from psops.billing import services as billing

    e = reach(people, "invoiced")
    both = user_ensure(username="cfo", roles=[roles.FINANCE, roles.CONTROLLER], email="cfo@psops.test")
    write_off = billing.write_off_request(user=both, invoice=e.invoice, amount="500.00",
                                          reason="Rounding on a disputed line")
    url = url_of(e.invoice)
    html = page(client, both, url)
    assert 'aria-describedby="why-approve-write-off"' in html and "Nobody decides their own write-off." in html
    before = db_state()
    response = client.post(act_url("invoice", e.invoice.pk, "approve-write-off"))
    assert response.status_code == 403 and "Nobody decides their own write-off." in response.content.decode()
    assert db_state() == before
    assert_refused(lambda: billing.write_off_decide(user=both, write_off=write_off, approve=True),
                   "segregation-of-duties")
    # The other controller decides it.
    assert "Approve write-off" in page(client, people["controller"], url)
    assert client.post(act_url("invoice", e.invoice.pk, "approve-write-off")).status_code == 302
    assert WriteOff.objects.get(pk=write_off.pk).state == WriteOff.State.APPROVED


def test_a_controller_refuses_a_proposed_write_off_from_the_page(people, client):
    e = reach(people, "write-off-requested")
    url = url_of(e.invoice)
    html = page(client, people["controller"], url)
    assert "Approve write-off" in html and "Refuse write-off" in html
    assert 'aria-describedby="why-refuse-write-off"' not in html
    assert client.post(act_url("invoice", e.invoice.pk, "refuse-write-off")).status_code == 302
    assert WriteOff.objects.get(pk=e.write_off.pk).state == WriteOff.State.REFUSED
    html = page(client, people["controller"], url)
    assert "Approve write-off" not in html and "Refuse write-off" not in html
    # Finance proposes; it never decides.
    html = page(client, people["finance"], url)
    assert "Approve write-off" not in html


def move(client, deal, stage: str, reason: str = ""):
    return client.post(act_url("opportunity", deal.pk, "stage"), {"stage-stage": stage, "stage-reason": reason})


def test_moving_a_deal_follows_the_stage_rule_on_the_page(people, client, deal):
    deal = deal[2]
    url = url_of(deal)
    assert "Move stage" in page(client, people["sal"], url)
    # Someone else's deal: not offered, and a forged move is forbidden with the rule's words.
    assert "Move stage" not in page(client, people["pse"], url)
    before = db_state()
    response = move(client, deal, "8-closed-lost")
    assert response.status_code == 403 and "moves this deal" in response.content.decode()
    assert db_state() == before
    # The owner moves forward; moving back is an administrator's act, refused with its reason.
    client.force_login(people["sal"])
    forward = move(client, deal, "1-discovery")
    assert forward.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "1-discovery"
    before = db_state()
    back = move(client, deal, "0-pending-acceptance", "x")
    assert back.status_code == 403 and "administrator" in back.content.decode()
    assert db_state() == before


def test_a_closed_deal_offers_a_move_to_the_administrator_only(people, client, deal):
    from psops.crm import services as crm

    deal = deal[2]
    crm.opportunity_move_stage(user=people["sal"], opportunity=deal, stage="8-closed-lost")
    url = url_of(deal)
    assert "Move stage" not in page(client, people["sal"], url)
    assert "Move stage" in page(client, people["admin"], url)


def test_adding_a_contact_asks_the_service_check(people, client, deal):
    deal = deal[2]
    url = url_of(deal)
    assert "Add a contact" in page(client, people["sal"], url)
    assert "Add a contact" not in page(client, people["pse"], url)
    form = {"contact-name": "Pat Buyer", "contact-email": "pat@acme.example", "contact-title": ""}
    before = db_state()
    assert client.post(act_url("opportunity", deal.pk, "contact"), form).status_code == 403
    assert db_state() == before
    client.force_login(people["sal"])
    assert client.post(act_url("opportunity", deal.pk, "contact"), form).status_code == 302
    assert Contact.objects.filter(account=deal.account, email="pat@acme.example").exists()
