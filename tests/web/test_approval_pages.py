"""What an approver and a submitter read: the roles by name, a closed request that waits for nobody, the version
approved linked to its ROM's page, and what "Submit" on a quote did."""

import html

import pytest

from psops.approvals import services as approvals
from tests.factories import reach

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_request_names_its_approvers_and_links_what_it_approves(people, client):
    e = reach(people, "rom-submitted")
    client.force_login(people["psmanager"])
    page = text(client.get(f"/approvals/{e.rom_request.pk}/"))
    assert "waiting for the Manager, Professional Services" in page and "ps_manager" not in page
    assert f'href="/roms/{e.rom.pk}/"' in page
    approvals.rom_decide(user=people["psmanager"], request=e.rom_request, outcome="reject", comment="Too vague")
    page = text(client.get(f"/approvals/{e.rom_request.pk}/"))
    assert "not given: the request is rejected" in page and "waiting for" not in page


@pytest.mark.parametrize("discount, says", [
    ("0", "Approved at once: the approval policy asks for no approval for this quote."),
    ("30", "Sent for approval: Any discount needs the Dir. CS (the Director of customer success). The approvers are "
           "notified."),
])
def test_submitting_a_quote_says_what_happened(people, client, discount, says):
    e = reach(people, "quote", discount=discount)
    client.force_login(people["sal"])
    response = client.post(f"/r/quote/{e.quote.pk}/act/submit/", follow=True)
    assert says in text(response)


def test_an_approver_reads_the_amount_lines_and_flags_of_what_is_asked(people, client):
    e = reach(people, "rom-submitted")
    version = e.rom.current
    client.force_login(people["psmanager"])
    page = text(client.get(f"/approvals/{e.rom_request.pk}/"))
    asked = page.split("What is asked", 1)[1].split("Needed", 1)[0]
    assert f"{version.currency} {version.low:,} – {version.currency} {version.high:,}" in asked
    for line in version.lines:
        assert line["description"] in asked
        if line.get("high") is not None:
            assert f"{version.currency} {float(line['high']):,.2f}" in asked
    for flag in version.flags:
        assert flag["message"] in asked


def test_an_approver_reads_the_total_discount_and_lines_of_a_quote(people, client):
    e = reach(people, "quote-submitted", discount="30")
    client.force_login(people["dircs"])
    asked = text(client.get(f"/approvals/{e.quote_request.pk}/")).split("What is asked", 1)[1].split("Needed", 1)[0]
    quote = e.quote
    assert f"<strong>{quote.currency} {quote.total:,}</strong>" in asked
    assert f"{quote.discount_percent}% ({quote.currency} {quote.discount_amount:,})" in asked
    assert all(line.description in asked for line in quote.lines.all())
