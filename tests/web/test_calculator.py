"""The calculator page: who may use it, the live range (htmx partial), refusals beside the question, and saving a
ROM or a new version of one through the estimating services (refused input changes nothing)."""

import pytest
from django.core.management import call_command

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.activity.models import TimelineEvent
from psops.crm.models import Opportunity
from psops.estimating.models import Rom, RomVersion
from psops.workflow.demo import ensure_users

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def demo():
    call_command("demo")


@pytest.fixture
def northwind(demo):
    return Opportunity.objects.get(account__name="Northwind Traders")


def login(client, username):
    user = ensure_users().get(username) or user_ensure(username=username, roles=[roles.SALES_REP])
    client.force_login(user)
    return user


def answers(**values):
    return {f"a-{name}": value for name, value in values.items()}


def counts():
    return Rom.objects.count(), RomVersion.objects.count(), TimelineEvent.objects.count()


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/calculator/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("username", ["psmanager", "finance", "pse", "dircs"])
def test_only_people_who_scope_deals_use_it(client, username):
    login(client, username)
    assert client.get("/calculator/").status_code == 403
    assert client.post("/calculator/", {"template": "sm-to-saas", **answers(users=1, projects=1)},
                       **HTMX).status_code == 403


@pytest.mark.parametrize("username", ["sal", "sa", "tam"])
def test_sales_architects_and_tams_use_it(client, username):
    login(client, username)
    page = client.get("/calculator/").content.decode()
    assert "Services calculator" in page and "Choose a template" in page


def test_the_deal_is_preselected_and_the_template_shows_its_questions(client, northwind):
    login(client, "sal")
    page = client.get(f"/calculator/?opportunity={northwind.pk}&template=sm-to-saas").content.decode()
    assert f'<option value="{northwind.pk}" selected>' in page
    for label in ("Users", "Projects", "Repositories over 5 GB", "Save as ROM"):
        assert label in page, label
    assert 'hx-post="/calculator/"' in page and 'hx-trigger="input changed delay:300ms"' in page


def test_only_open_deals_the_user_may_estimate_are_offered(client, northwind):
    login(client, "sal9")  # another rep: Northwind is not theirs
    page = client.get(f"/calculator/?opportunity={northwind.pk}&template=sm-to-saas").content.decode()
    assert "Northwind" not in page and "Select a valid choice" in page
    assert "Save as ROM" not in page  # no deal, nothing to save to


def test_the_price_book_asks_one_question_per_sku(client, demo):
    login(client, "sa")
    page = client.get("/calculator/?template=price-book").content.decode()
    assert "GitLab CI/CD training (GL-CICD-R)" in page and "Attendees per training session" in page


def test_the_live_partial_shows_lines_range_and_flags(client, northwind):
    login(client, "sal")
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas",
                                            **answers(users="800", projects="1500", large_repos="11")}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page  # the partial only
    assert "USD 79,000.00 – USD 89,000.00" in page
    assert "SM-SAAS-MIGRATION" in page and "SM-SAAS-LARGE-REPOS" in page
    assert "technical-architect-review" in page
    # Every question's error slot comes back empty, so a corrected answer clears its message.
    assert '<p class="error" id="id_a-users-error" hx-swap-oob="true"></p>' in page


def test_the_live_partial_puts_a_bad_number_beside_its_question(client, northwind):
    login(client, "sal")
    before = counts()
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas",
                                            **answers(users="lots", projects="1500")}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps 200 responses only
    assert ('<p class="error" id="id_a-users-error" hx-swap-oob="true">users must be a whole number, not '
            "&#x27;lots&#x27;.</p>") in page
    assert "USD" not in page.split('id="id_a-users-error"')[0]  # no range for bad answers
    assert counts() == before


def test_beyond_the_matrix_there_is_no_price_but_a_flag(client, northwind):
    login(client, "sal")
    page = client.post("/calculator/", {"template": "sm-to-saas", **answers(users="5000", projects="10")},
                       **HTMX).content.decode()
    assert "No price" in page and "engagement-manager-estimate" in page


def test_a_refusal_about_no_question_shows_in_the_result(client, northwind):
    login(client, "sal")
    page = client.post("/calculator/", {"template": "implementation", **answers(instances="0")},
                       **HTMX).content.decode()
    assert "every answer is 0" in page


def test_without_script_the_preview_button_renders_the_whole_page(client, northwind):
    login(client, "sal")
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas", "preview": "1",
                                            **answers(users="800", projects="1500")})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" in page and "USD 55,000.00 – USD 65,000.00" in page


def test_saving_creates_a_rom_and_goes_to_its_page(client, northwind):
    user = login(client, "sal")
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas", "save": "1",
                                            **answers(users="800", projects="1500", assumptions="Two phases.")})
    rom = Rom.objects.get(opportunity=northwind)
    assert response.status_code == 302 and response.url == f"/roms/{rom.pk}/"
    version = rom.current
    assert version.number == 1 and version.answers == {"users": "800", "projects": "1500"}
    assert (version.low, version.high) == (55000, 65000) and "Two phases." in version.assumptions
    assert rom.status == "draft" and rom.created_by == user
    assert TimelineEvent.objects.filter(verb="rom.created", subject_id=rom.pk).exists()
    page = client.get(response.url).content.decode()
    assert "Send for approval" in page and f"/calculator/?rom={rom.pk}" in page


def test_saving_refuses_bad_input_and_changes_nothing(client, northwind):
    login(client, "sal")
    before = counts()
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas", "save": "1",
                                            **answers(users="-5", projects="1500")})
    page = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" id="id_a-users-error">users may not be negative (-5).</p>' in page
    assert 'value="-5"' in page  # the answers stay as typed
    assert counts() == before


def test_saving_needs_a_deal(client, demo):
    login(client, "sa")
    before = counts()
    response = client.post("/calculator/", {"template": "sm-to-saas", "save": "1",
                                            **answers(users="800", projects="1500")})
    assert response.status_code == 400 and "Choose the deal this ROM is for" in response.content.decode()
    assert counts() == before


def test_saving_for_a_deal_the_user_may_not_estimate_changes_nothing(client, northwind):
    login(client, "sal9")
    before = counts()
    response = client.post("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas", "save": "1",
                                            **answers(users="800", projects="1500")})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert counts() == before


def test_revising_prefills_the_answers_and_saves_a_new_version(client, demo):
    rom = Rom.objects.get(opportunity__account__name="Initech")  # needs discovery
    login(client, "sal")
    page = client.get(f"/calculator/?rom={rom.pk}").content.decode()
    assert f"Revising <a href=\"/roms/{rom.pk}/\">" in page and "Save as a new version" in page
    assert 'name="a-ha_geo" value="1"' in page and 'name="a-integrations" value="2"' in page
    response = client.post("/calculator/", {"rom": rom.pk, "save": "1",
                                            **answers(instances="1", ha_geo="0", integrations="2")})
    assert response.status_code == 302 and response.url == f"/roms/{rom.pk}/"
    rom.refresh_from_db()
    assert rom.status == "draft" and rom.current.number == 2 and rom.current.answers["ha_geo"] == "0"
    assert rom.versions.get(number=1).answers["ha_geo"] == "1"  # the earlier version stays as it was


def test_a_rom_waiting_for_approval_is_not_revised(client, demo):
    rom = Rom.objects.get(opportunity__account__name="Globex Corporation")  # submitted
    login(client, "sal")
    page = client.get(f"/calculator/?rom={rom.pk}").content.decode()
    assert "waiting for approval: it cannot change" in page and "Save as a new version" not in page
    before = counts()
    response = client.post("/calculator/", {"rom": rom.pk, "save": "1", **answers(**{"GL-CICD-R": "3"})})
    assert response.status_code == 400 and "waiting for approval" in response.content.decode()
    assert counts() == before


def test_revising_someone_elses_rom_is_refused(client, demo):
    rom = Rom.objects.get(opportunity__account__name="Initech")
    login(client, "tam")  # sees the deal, but neither wrote the ROM nor owns the deal
    assert client.get(f"/calculator/?rom={rom.pk}").status_code == 403
    login(client, "sal9")  # does not even see the deal
    assert client.get(f"/calculator/?rom={rom.pk}").status_code == 404
    assert client.get("/calculator/?rom=abc").status_code == 404


def test_the_deal_picker_offers_a_bounded_list_found_by_name(client, northwind):
    """A firm has tens of thousands of open deals: the picker offers the 50 closing soonest, finds others by the
    deal's or the account's name, keeps the one chosen, and still accepts only deals the user may estimate."""
    import datetime as dt

    from django.utils import timezone

    from psops.web.calculator_forms import DEALS_SHOWN

    sal = login(client, "sal")
    soon = timezone.localdate() + dt.timedelta(days=1)
    Opportunity.objects.bulk_create(
        Opportunity(account=northwind.account, name=f"Renewal {n:03}", owner=sal, amount=1000, currency="USD",
                    close_date=soon, segment=northwind.segment, stage=northwind.stage) for n in range(DEALS_SHOWN + 10))
    page = client.get("/calculator/").content.decode()
    offered = page.split('name="opportunity"', 1)[1].split("</select>", 1)[0].count("<option value=\"")
    assert offered == DEALS_SHOWN + 1  # the 50, and "Choose a deal"
    assert f"The first {DEALS_SHOWN} open deals closing soonest" in page
    assert northwind.name not in page.split('name="opportunity"', 1)[1].split("</select>", 1)[0]  # closes later
    found = client.get("/calculator/", {"find": northwind.name.lower()}).content.decode()
    assert f'<option value="{northwind.pk}">' in found and "Renewal" not in found.split("</select>", 1)[0]
    by_account = client.get("/calculator/", {"find": "northwind"}).content.decode()
    assert f"Deals matching \u201cnorthwind\u201d (the first {DEALS_SHOWN})." in by_account
    chosen = client.get("/calculator/", {"opportunity": northwind.pk, "template": "sm-to-saas"}).content.decode()
    assert f'<option value="{northwind.pk}" selected>' in chosen and "Save as ROM" in chosen
