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


def test_a_form_sent_back_puts_the_focus_on_the_first_field_to_fix(visit):
    person = visit("sal").login("sal")
    person.go("/deals/new/")
    with person.page.expect_navigation():
        person.page.click("button:has-text('Create the deal')")
    assert person.page.locator(".field.invalid").count() >= 1
    focused = person.page.evaluate("document.activeElement.id")
    first = person.page.locator(".field.invalid input, .field.invalid select").first.get_attribute("id")
    assert focused == first and focused
    # The message that field says describes it is the one shown beside it.
    described = person.page.locator(f"#{first}").get_attribute("aria-describedby") or ""
    assert f"{first}_error" in described.split()
    assert person.page.locator(f"#{first}_error").inner_text().strip()
