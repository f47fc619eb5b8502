"""The deal team: the sales rep names the solutions architect and the TAM on the deal's page (or when creating the
deal); each named person is told and finds the deal in their queue. Who may not is refused in the page."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from psops.activity.models import Notification, TimelineEvent
from psops.crm.models import Opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("demo")


def person(username):
    return get_user_model().objects.get(username=username)


def act_url(deal, code):
    return reverse("web:act", args=["opportunity", deal.pk, code])


def test_the_sales_rep_names_the_team_and_each_person_is_told(client, demo):
    deal = Opportunity.objects.get(account__name="Northwind Traders")
    Opportunity.objects.filter(pk=deal.pk).update(solutions_architect=None, tam=None)
    client.login(username="sal", password="demo")
    page = client.get(reverse("web:opportunity", args=[deal.pk])).content.decode()
    assert "Name the deal team" in page and "none named" in page
    response = client.post(act_url(deal, "team"), {"team-solutions_architect": person("sa").pk,
                                                   "team-tam": person("tam").pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.solutions_architect, deal.tam) == (person("sa"), person("tam"))
    assert Notification.objects.filter(recipient=person("sa"), kind="team").exists()
    assert TimelineEvent.objects.filter(verb="opportunity.team", subject_id=deal.pk).exists()
    page = client.get(reverse("web:opportunity", args=[deal.pk])).content.decode()
    assert str(person("sa")) in page.split("Solutions architect</dt>", 1)[1].split("</dd>", 1)[0]


def test_somebody_without_the_role_cannot_be_named_and_nothing_changes(client, demo):
    deal = Opportunity.objects.get(account__name="Northwind Traders")
    before = (deal.solutions_architect_id, deal.tam_id)
    client.login(username="sal", password="demo")
    response = client.post(act_url(deal, "team"), {"team-solutions_architect": person("pse").pk, "team-tam": ""})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    deal.refresh_from_db()
    assert (deal.solutions_architect_id, deal.tam_id) == before


def test_only_the_owner_or_an_administrator_names_the_team(client, demo):
    deal = Opportunity.objects.get(account__name="Northwind Traders")
    client.login(username="pse", password="demo")
    assert "Name the deal team" not in client.get(reverse("web:opportunity", args=[deal.pk])).content.decode()
    response = client.post(act_url(deal, "team"), {"team-solutions_architect": "", "team-tam": ""})
    assert response.status_code == 403
    assert "names the deal&#x27;s team" in response.content.decode()
    deal.refresh_from_db()
    assert deal.solutions_architect is not None


def test_a_new_deal_names_its_team(client, demo):
    client.login(username="sal", password="demo")
    response = client.post("/deals/new/", {
        "account_name": "Soylent", "name": "Soylent platform", "segment": "smb", "amount": "1000",
        "currency": "EUR", "close_date": "2027-03-01", "solutions_architect": person("sa").pk, "tam": ""})
    assert response.status_code == 302
    deal = Opportunity.objects.get(name="Soylent platform")
    assert deal.solutions_architect == person("sa") and deal.tam is None
    client.login(username="sa", password="demo")
    assert "Soylent platform" in client.get("/").content.decode()


def test_the_stage_form_offers_the_owner_forward_moves_only(client, demo):
    deal = Opportunity.objects.get(account__name="Northwind Traders")
    assert deal.stage == "2-scoping"
    client.login(username="sal", password="demo")
    page = client.get(reverse("web:opportunity", args=[deal.pk])).content.decode()
    stage_select = page.split('name="stage-stage"', 1)[1].split("</select>", 1)[0]
    assert 'value="3-' in stage_select
    assert 'value="1-discovery"' not in stage_select and 'value="2-scoping"' not in stage_select
    assert "stage-reason" not in page  # no move back is offered, so no reason is asked
    client.login(username="admin", password="demo")
    page = client.get(reverse("web:opportunity", args=[deal.pk])).content.decode()
    assert 'value="1-discovery"' in page.split('name="stage-stage"', 1)[1].split("</select>", 1)[0]
    assert "stage-reason" in page
