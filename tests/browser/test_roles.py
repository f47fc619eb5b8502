"""Each role logs in through the real login page and lands on its work queue; screenshots are kept."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

HOMES = {
    "sal": "My deals and their next step",
    "sa": "Good to see you",
    "tam": "Good to see you",
    "psmanager": "Approvals waiting for you",
    "dircs": "SOWs to review",
    "pse": "SOWs to write",
    "finance": "Collections",
    "admin": "Set-up",
}


def test_every_role_lands_on_its_home(visit):
    for username, expected in HOMES.items():
        person = visit(username).login(username)
        assert expected in person.page.content(), username
        assert person.shot("home").stat().st_size > 10_000
        assert not [e for e in person.console_errors if "Content Security Policy" in e], person.console_errors


def test_a_wrong_password_is_refused_with_a_message(visit):
    person = visit("stranger")
    person.go("/accounts/login/")
    person.page.fill("#id_username", "sal")
    person.page.fill("#id_password", "not-the-password")
    with person.page.expect_navigation():
        person.page.click("button[type=submit]")
    assert "correct username and password" in person.page.content()
    assert person.page.url.endswith("/accounts/login/")
