"""Every list exports what its page lists, as filtered and sorted, to CSV and XLSX; the cost does not grow with the
rows (one read in chunks); a name typed as a formula stays text; and who may not read a list may not export it."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from psops.crm import services as crm
from psops.crm.choices import Stage
from psops.crm.models import Opportunity
from psops.workflow.demo import ensure_users

pytestmark = pytest.mark.django_db

LISTS = {"deals": "finance", "approvals": "psmanager", "projects": "psmanager", "invoices": "finance",
         "collections": "finance"}


@pytest.fixture
def demo():
    call_command("demo")


def download(client, username: str, url: str):
    client.force_login(ensure_users()[username])
    return client.get(url)


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(response) -> list[list]:
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("name", list(LISTS))
def test_each_list_exports_the_rows_its_page_counts(client, demo, name):
    username = LISTS[name]
    page = download(client, username, f"/{name}/?")
    assert f'href="/{name}/export.csv?' in page.content.decode()
    shown = page.context["page"].paginator.count
    as_csv = download(client, username, f"/{name}/export.csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert f'filename="{name}-' in as_csv["Content-Disposition"]
    table = csv_rows(as_csv)
    assert len(table) - 1 == shown > 0 and table[0][-1] == "Id"
    as_xlsx = download(client, username, f"/{name}/export.xlsx")
    assert as_xlsx.status_code == 200
    sheet = xlsx_rows(as_xlsx)
    assert [str(c) for c in sheet[0]] == table[0] and len(sheet) == len(table)
    assert [str(r[-1]) for r in sheet[1:]] == [r[-1] for r in table[1:]]  # the same rows, in the same order


def test_the_export_keeps_the_filters_and_the_sort(client, demo):
    table = csv_rows(download(client, "finance", "/deals/export.csv?stage=2-scoping&sort=-deal"))
    names = [row[1] for row in table[1:]]
    expected = list(Opportunity.objects.filter(stage="2-scoping").order_by("-name", "-pk").values_list("name",
                                                                                                      flat=True))
    assert names == expected and len(names) >= 2
    assert {row[2] for row in table[1:]} == {str(dict(Stage.choices)["2-scoping"])}  # the label the page shows


def test_a_sales_rep_exports_only_their_deals_and_no_invoices(client, demo):
    sal = ensure_users()["sal"]
    seen = set(Opportunity.objects.filter(owner=sal).values_list("pk", flat=True))
    table = csv_rows(download(client, "sal", "/deals/export.csv"))
    assert {int(row[-1]) for row in table[1:]} <= seen
    assert download(client, "sal", "/invoices/export.csv").status_code == 403
    assert download(client, "sal", "/invoices/export.xlsx").status_code == 403
    assert download(client, "sal", "/deals/export.pdf").status_code == 404


def test_a_formula_in_a_name_is_exported_as_text(client, demo):
    sal = ensure_users()["sal"]
    account = crm.account_create(user=sal, name="=HYPERLINK(\"http://evil.example\")")
    crm.opportunity_create(user=sal, account=account, name="+cmd|' /C calc'!A0", close_date="2030-01-01",
                           segment="large")
    table = csv_rows(download(client, "sal", "/deals/export.csv?q=evil"))
    assert table[1][0].startswith("'=") and table[1][1].startswith("'+")
    sheet = xlsx_rows(download(client, "sal", "/deals/export.xlsx?q=evil"))
    assert str(sheet[1][0]).startswith("'=")


def test_an_export_costs_the_same_whatever_it_holds(client, demo):
    user = ensure_users()["finance"]
    client.force_login(user)

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            b"".join(client.get("/deals/export.csv").streaming_content)
        return len(queries)

    few = cost()
    account = crm.account_create(user=ensure_users()["sal"], name="Many Deals Inc")
    for n in range(30):
        crm.opportunity_create(user=ensure_users()["sal"], account=account, name=f"Deal {n}",
                               close_date="2030-01-01", segment="large")
    assert cost() == few
