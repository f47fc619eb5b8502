"""The billing run and the bank file in the browser: offered to Finance only, all or none, and a refusal is a 4xx
page that says why and changes nothing."""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from psops.billing import services
from psops.billing.models import Invoice, Payment
from tests.factories import db_state
from tests.test_batch_billing import csv_of, drafts

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_finance_issues_the_ticked_drafts_from_the_list(people, client):
    a, b, c = drafts(people, 3)
    client.force_login(people["finance"])
    page = text(client.get("/invoices/?state=draft"))
    for invoice in (a, b, c):
        assert f'name="invoice" value="{invoice.pk}"' in page
    assert "Issue the ticked drafts" in page and "Record payments from a bank file" in page
    response = client.post("/invoices/issue/?state=draft", {"invoice": [a.pk, b.pk]})
    assert response.status_code == 302 and response["Location"] == "/invoices/?state=draft"
    assert set(Invoice.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "state")) == {
        (a.pk, "issued"), (b.pk, "issued"), (c.pk, "draft")}
    assert f"Issued 2 invoices: INV-{a.pk:05d}, INV-{b.pk:05d}." in text(client.get(response["Location"]))


@pytest.mark.parametrize("posted, status, says", [
    ("issued", 400, "is issued"),
    ("garbage", 400, "Tick the drafts to issue"),
    ("nothing", 400, "Choose the drafts to issue first"),
])
def test_a_refused_billing_run_says_why_and_issues_nothing(people, client, posted, status, says):
    a, b = drafts(people, 2)
    services.invoice_issue(user=people["finance"], invoice=a)
    client.force_login(people["finance"])
    data = {"issued": {"invoice": [a.pk, b.pk]}, "garbage": {"invoice": [b.pk, "1;DROP"]}, "nothing": {}}[posted]
    before = db_state()
    response = client.post("/invoices/issue/?state=draft", data)
    assert response.status_code == status and says in text(response)
    assert db_state() == before


def test_the_batch_acts_are_offered_to_finance_alone(people, client):
    (a,) = drafts(people, 1)
    client.force_login(people["controller"])
    page = text(client.get("/invoices/"))
    assert 'name="invoice"' not in page and "bank file" not in page
    before = db_state()
    assert client.post("/invoices/issue/", {"invoice": [a.pk]}).status_code == 403
    response = client.get("/payments/import/")
    assert response.status_code == 403 and "Only Finance records payments." in text(response)
    upload = SimpleUploadedFile("bank.csv", csv_of(f"INV-{a.pk:05d},1,2026-11-02,"))
    assert client.post("/payments/import/", {"file": upload}).status_code == 403
    assert db_state() == before


def test_finance_records_a_bank_file_or_nothing(people, client):
    a, b = services.invoices_issue(user=people["finance"], invoices=drafts(people, 2))
    client.force_login(people["finance"])
    page = text(client.get("/payments/import/"))
    assert "invoice,amount,received_on,reference" in page and 'type="file"' in page
    good = csv_of(f"{a.number},{a.amount},2026-11-20,B-1", f"{b.number},10.00,2026-11-20,B-2")
    response = client.post("/payments/import/", {"file": SimpleUploadedFile("bank.csv", good)}, follow=True)
    assert "Recorded 2 payments on 2 invoices" in text(response) and Payment.objects.count() == 2
    before = db_state()
    for data, status, says in [
        (good, 409, "Line 2: This payment"),
        (csv_of(f"{b.number},10.00,2026-11-21,", f"{b.number},abc,2026-11-21,"), 400, "Line 3:"),
        (b"\x00\x01", 400, "not a CSV text file"),
    ]:
        response = client.post("/payments/import/", {"file": SimpleUploadedFile("bank.csv", data)})
        assert response.status_code == status and says in text(response), text(response)[:2000]
    response = client.post("/payments/import/", {})
    assert response.status_code == 400 and "This field is required" in text(response)
    assert db_state() == before
