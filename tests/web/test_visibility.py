"""Who sees which business (decision 0008): every page that shows deals, accounts, contacts or their figures, asked
by every demo role, by two sales reps and one rep's manager, and by someone who holds no role.

Two reps own deals with names found nowhere else: Sam (`sal`) sells to "Zanzibar Freight" (one ROM waiting for
approval, one deal won with its project and draft invoice), Riley (`rep2`) sells to "Kalahari Mining" (one ROM
waiting, submitted after Sam's). Each person must see exactly the names and figures of the deals within their reach.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.approvals import services as approvals
from psops.crm import scope
from psops.crm import services as crm
from psops.crm.models import Account, Opportunity, PSOpportunity
from psops.crm.selectors import opportunity_list
from psops.estimating import services as estimating
from psops.insights import selectors as figures
from psops.workflow.demo import DEMO_USERS, ensure_users
from tests.builders import signed_project

pytestmark = pytest.mark.django_db

OURS, THEIRS = "Zanzibar", "Kalahari"  # Sam's and Riley's: each word appears only in that rep's records
SEES_ALL = [username for username, *_ in DEMO_USERS if username != "sal"]  # every other demo role sees every deal
SEES_OURS = ["sal", "salesboss"]  # Sam and Sam's manager
SEES_THEIRS = ["rep2"]


class World:
    def __init__(self):
        self.people = ensure_users()
        sal = self.people["sal"]
        rep2 = user_ensure(username="rep2", roles=[roles.SALES_REP], first_name="Riley", last_name="Rep")
        boss = user_ensure(username="salesboss", roles=[roles.SALES_REP], first_name="Morgan", last_name="Lead")
        sal.manager = boss
        sal.save(update_fields=["manager"])
        self.people.update(rep2=rep2, salesboss=boss,
                           nobody=user_ensure(username="nobody", roles=[], first_name="Noel", last_name="Nobody"))
        self.ours = self._waiting(sal, "Zanzibar Freight", "Quincy Zanzibar", "Zanzibar rollout", "40000")
        won = crm.opportunity_create(user=sal, account=self.ours.account, name="Zanzibar migration", segment="large",
                                     close_date=timezone.localdate() + dt.timedelta(days=30), amount="90000")
        self.project = signed_project(self.people, won, self.ours.account.contacts.get())
        self.theirs = self._waiting(rep2, "Kalahari Mining", "Ursula Kalahari", "Kalahari rollout", "35000")

    def _waiting(self, rep, account_name: str, contact_name: str, deal_name: str, ps_amount: str) -> Opportunity:
        """A deal of `rep` with a ROM waiting for approval and its PS opportunity open at `ps_amount`."""
        account = crm.account_create(user=rep, name=account_name)
        crm.contact_create(user=rep, account=account, name=contact_name,
                           email=f"{contact_name.split()[0].lower()}@{account_name.split()[0].lower()}.example")
        opp = crm.opportunity_create(user=rep, account=account, name=deal_name, segment="large", amount="120000",
                                     close_date=timezone.localdate() + dt.timedelta(days=60))
        rom = estimating.rom_create(user=self.people["sa"], opportunity=opp, template="sm-to-saas",
                                    answers={"users": 100, "projects": 500})
        assert approvals.rom_submit(user=rep, rom=rom) is not None
        estimating.rom_open_ps_opportunity(user=rep, rom=rom, ps_amount=ps_amount)
        return opp


@pytest.fixture
def world():
    return World()


CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def page(client, user, url):
    """The response and its text without the CSRF tokens (random letters that may spell "USD")."""
    client.force_login(user)
    response = client.get(url)
    return response, CSRF_VALUE.sub("", response.content.decode())


def expected_words(username: str) -> tuple[list[str], list[str]]:
    """(the deal words this person must see, those they must not)."""
    if username in SEES_ALL:
        return [OURS, THEIRS], []
    if username in SEES_OURS:
        return [OURS], [THEIRS]
    if username in SEES_THEIRS:
        return [THEIRS], [OURS]
    return [], [OURS, THEIRS]


def everyone(world) -> list[str]:
    return [*SEES_ALL, *SEES_OURS, *SEES_THEIRS, "nobody"]


def assert_no_role_page(response, text):
    assert response.status_code == 403
    assert "You have no role yet" in text
    for word in (OURS, THEIRS, "USD", "Pipeline"):
        assert word not in text, word


# --- The rule itself ----------------------------------------------------------------------------------------------


def test_every_role_is_given_a_reach_on_purpose():
    assert scope.SEES_EVERY_DEAL.isdisjoint(scope.SEES_OWN_DEALS)
    assert set(roles.ROLES) == scope.SEES_EVERY_DEAL | scope.SEES_OWN_DEALS


def test_the_record_rule_and_the_list_rule_agree(world):
    """`crm.view_deal` (record pages) and `deal_scope` (lists, search, figures) are one rule."""
    deals = list(Opportunity.objects.select_related("owner", "account"))
    for username in everyone(world):
        user = world.people[username]
        by_record = {d.name for d in deals if user.has_perm("crm.view_deal", d)}
        by_list = set(opportunity_list(user=user).values_list("name", flat=True))
        assert by_record == by_list, username
        shown, hidden = expected_words(username)
        assert all(any(w in n for n in by_list) for w in shown), username
        assert not any(w in n for w in hidden for n in by_list), username


# --- Search ---------------------------------------------------------------------------------------------------------


def test_search_finds_only_the_accounts_contacts_and_deals_one_sees(client, world):
    for username in everyone(world):
        user = world.people[username]
        for word, email, contact in ((OURS, "quincy@zanzibar", "Quincy Zanzibar"),
                                     (THEIRS, "ursula@kalahari", "Ursula Kalahari")):
            response, text = page(client, user, f"/search/?q={word.lower()}")
            if username == "nobody":
                assert_no_role_page(response, text)
                continue
            assert response.status_code == 200
            shown, _ = expected_words(username)
            names = [f"{word} rollout", f"{word} {'Freight' if word == OURS else 'Mining'}", contact]
            for name in names:
                assert (name in text) == (word in shown), (username, name)
            # Contacts are found by e-mail address as well, under the same rule.
            _, text = page(client, user, f"/search/?q={email}")
            assert (contact in text) == (word in shown), (username, email)


# --- Dashboards -----------------------------------------------------------------------------------------------------


def pipeline_total(deals) -> Decimal:
    return (PSOpportunity.objects.filter(parent__in=deals, stage__in=["rom-approval", "approved", "quoted",
                                                                      "quote-accepted", "sow-out", "sow-signed"])
            .aggregate(t=Sum("ps_amount"))["t"] or Decimal("0"))


def test_the_dashboards_figures_cover_only_the_deals_one_sees(client, world):
    ours = Opportunity.objects.filter(name__startswith=OURS)
    theirs = Opportunity.objects.filter(name__startswith=THEIRS)
    assert pipeline_total(ours) != pipeline_total(theirs)
    for username in everyone(world):
        response, text = page(client, world.people[username], "/dashboards/")
        if username == "nobody":
            assert_no_role_page(response, text)
            continue
        assert response.status_code == 200
        shown, hidden = expected_words(username)
        deals = Opportunity.objects.filter(name__startswith=shown[0]) if len(shown) == 1 else Opportunity.objects.all()
        total = pipeline_total(deals)
        assert f"stage by stage: USD {total:,.2f} in all." in text, (username, total)
        # Approvals waiting: only the requests on deals one sees; the oldest one's title names its deal.
        assert f"{len(shown)} waiting;" in text, username
        oldest = text.split("Oldest: ", 1)[1].split("business days", 1)[0]
        assert shown[0] in oldest, (username, oldest)
        for word in hidden:
            assert word not in text, (username, word)
        # Backlog and bookings: the won Zanzibar project counts only for those who see it.
        assert ("No signed work waiting for delivery" in text) == (OURS not in shown), username
        assert ("Nothing closed won in the last 12 months" in text) == (OURS not in shown), username


def test_the_time_in_each_step_counts_only_the_deals_one_sees(world):
    """The won Zanzibar deal finished every step up to its SOW; nobody else's deal finished any."""
    for username in everyone(world):
        steps = {s.code: s.count for s in figures.step_times(user=world.people[username])}
        shown, _ = expected_words(username)
        finished = 1 if OURS in shown else 0
        assert (steps["rom"], steps["quote"], steps["sow"]) == (finished,) * 3, username


# --- Home and the lists -------------------------------------------------------------------------------------------


def test_the_home_page_shows_only_ones_own_business(client, world):
    for username in everyone(world):
        response, text = page(client, world.people[username], "/")
        if username == "nobody":
            assert_no_role_page(response, text)
            continue
        assert response.status_code == 200
        _, hidden = expected_words(username)
        for word in hidden:
            assert word not in text, (username, word)
    # The reps' own queues name their own deals; an approver's queue names both waiting ROMs.
    assert "Zanzibar rollout" in page(client, world.people["sal"], "/")[1]
    assert "Kalahari rollout" in page(client, world.people["rep2"], "/")[1]
    home = page(client, world.people["psmanager"], "/")[1]
    assert OURS in home and THEIRS in home


LISTS = ["/deals/", "/approvals/", "/projects/", "/invoices/"]


def test_each_list_shows_only_the_rows_one_sees(client, world):
    for username in everyone(world):
        shown, hidden = expected_words(username)
        for url in LISTS:
            response, text = page(client, world.people[username], url)
            if username == "nobody":
                assert_no_role_page(response, text)
                continue
            if response.status_code == 403:  # a list that is not for this role says so and shows nothing
                assert OURS not in text and THEIRS not in text, (username, url)
                continue
            assert response.status_code == 200, (username, url)
            for word in hidden:
                assert word not in text, (username, url, word)
            if url in ("/deals/", "/approvals/"):  # both deals have rows here; only Zanzibar has a project
                for word in shown:
                    assert word in text, (username, url, word)
    # The won deal's project and invoice reach the people who work on them.
    assert "Zanzibar" in page(client, world.people["sal"], "/projects/")[1]
    assert "Zanzibar" in page(client, world.people["psmanager"], "/projects/")[1]
    assert "Zanzibar" in page(client, world.people["finance"], "/invoices/")[1]
    assert "Zanzibar" not in page(client, world.people["rep2"], "/projects/")[1]


def test_record_pages_of_deals_out_of_reach_are_not_found(client, world):
    for username, deal in (("rep2", world.ours), ("sal", world.theirs), ("nobody", world.ours)):
        assert page(client, world.people[username], f"/opportunities/{deal.pk}/")[0].status_code == 404, username
    assert page(client, world.people["salesboss"], f"/opportunities/{world.ours.pk}/")[0].status_code == 200
    assert page(client, world.people["finance"], f"/opportunities/{world.theirs.pk}/")[0].status_code == 200


def test_a_new_deal_offers_only_the_accounts_one_sees(client, world):
    text = page(client, world.people["rep2"], "/deals/new/")[1]
    assert "Kalahari Mining" in text and "Zanzibar Freight" not in text
    text = page(client, world.people["sal"], "/deals/new/")[1]
    assert "Zanzibar Freight" in text and "Kalahari Mining" not in text
    # An account of another rep cannot be posted either.
    client.force_login(world.people["rep2"])
    response = client.post("/deals/new/", {"account": Account.objects.get(name="Zanzibar Freight").pk,
                                           "name": "Poach", "segment": "smb", "amount": "1", "currency": "USD",
                                           "close_date": (timezone.localdate() + dt.timedelta(days=9)).isoformat()})
    assert response.status_code == 400 and not Opportunity.objects.filter(name="Poach").exists()


def test_the_navigation_offers_someone_without_a_role_no_figures(client, world):
    response, text = page(client, world.people["nobody"], "/inbox/")
    assert_no_role_page(response, text)
    assert 'href="/dashboards/"' not in text
