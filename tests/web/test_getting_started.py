"""Getting started: each role's page says where its work starts, with links to the pages it names; an empty home
points to it."""

import pytest
from django.urls import reverse

from psops.accounts import roles
from psops.accounts.services import user_ensure
from psops.web.guide import GUIDES

pytestmark = pytest.mark.django_db


def test_every_role_has_a_guide_whose_links_lead_somewhere():
    assert set(GUIDES) == set(roles.ROLES)
    for guide in GUIDES.values():
        assert guide.steps, guide.role
        for step in guide.steps:
            if step.link:
                assert reverse(step.link) and step.link_text, (guide.role, step.text)


@pytest.mark.parametrize("role", list(roles.ROLES))
def test_an_empty_home_leads_to_the_guide_of_the_roles_held(client, role):
    user_ensure(username="newcomer", roles=[role], password="pw")
    client.login(username="newcomer", password="pw")
    home = client.get("/").content.decode()
    assert 'Getting started</a> says where your work starts' in home
    # Every home but the administrator's (its set-up always shows) is empty, and says where to begin.
    assert ("Nothing waits for you yet" in home) == (role != roles.ADMINISTRATOR)
    page = client.get("/start/")
    assert page.status_code == 200
    html = page.content.decode()
    assert roles.ROLES[role] in html and GUIDES[role].summary.replace("'", "&#x27;") in html
    others = [r for r in roles.ROLES if r != role and GUIDES[r].summary not in GUIDES[role].summary]
    assert not any(f'id="g-{other}"' in html for other in others)
    for step in GUIDES[role].steps:
        if step.link:
            assert f'href="{reverse(step.link)}"' in html
    # Only a sales rep is offered a new deal from the empty home.
    if role != roles.ADMINISTRATOR:
        assert ('href="/deals/new/"' in home.split("Nothing waits for you yet", 1)[1]) == (role == roles.SALES_REP)


def test_somebody_without_a_role_gets_no_guide(client):
    user_ensure(username="nobody", roles=[], password="pw")
    client.login(username="nobody", password="pw")
    assert client.get("/start/").status_code == 403
