"""Bringing accounts, contacts and deals in from a Salesforce report export (CSV) or a workbook (XLSX): every refused
row is reported with its line, nothing is written until no row is refused, and then everything at once."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from psops.activity.models import Thread, TimelineEvent
from psops.activity.services import thread_for
from psops.core.models import Timer
from psops.crm import import_runs
from psops.crm.models import Account, Contact, ImportPreset, ImportRun, Opportunity
from tests.factories import assert_refused, make_deal

pytestmark = pytest.mark.django_db

HEADER = ["Opportunity Name", "Account Name", "Opportunity Owner", "Stage", "Amount", "Opportunity Currency",
          "Close Date", "Contact: Full Name", "Email", "Title", "Type"]


def good(n: int, owner: str = "sal") -> list[str]:
    return [f"Deal {n}", f"Account {n % 7}", owner, "Prospecting", f"{1000 + n}.50", "USD", "12/31/2027",
            f"Contact {n}", f"contact{n}@example.com", "CTO", "Large"]


def as_csv(rows: list[list[str]]) -> SimpleUploadedFile:
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *rows])
    return SimpleUploadedFile("report.csv", text.getvalue().encode("utf-8-sig"), content_type="text/csv")


def as_xlsx(rows: list[list[str]]) -> SimpleUploadedFile:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return SimpleUploadedFile("report.xlsx", data.getvalue())


def run_through(people, upload, **mapping_options) -> ImportRun:
    run = import_runs.import_upload(user=people["admin"], upload=upload)
    import_runs.import_map(user=people["admin"], run=run, mapping=run.mapping, **mapping_options)
    assert import_runs.imports_work() == 1
    run.refresh_from_db()
    return run


BAD_ROWS = [
    (["Deal b1", "", "sal", "Prospecting", "10", "USD", "2027-12-31", "", "", "", "Large"], "account"),
    (["Deal b2", "Account b", "sal", "Prospecting", "10", "USD", "2027-12-31", "Ann", "not-an-email", "", "Large"],
     "contact_email"),
    (["Deal b3", "Account b", "nobody-here", "Prospecting", "10", "USD", "2027-12-31", "", "", "", "Large"], "owner"),
    (["Deal 1", "Account 1", "sal", "Prospecting", "10", "USD", "2027-12-31", "", "", "", "Large"], "deal"),  # twice
    (["Deal b5", "Account b", "sal", "Closed Won", "10", "USD", "2027-12-31", "", "", "", "Large"], "stage"),
    (["Deal b6", "Account b", "sal", "Prospecting", "ten", "USD", "2027-12-31", "", "", "", "Large"], "amount"),
    (["Deal b7", "Account b", "sal", "Prospecting", "10", "USD", "31.12.2027", "", "", "", "Large"], "close_date"),
    (["Deal b8", "Account b", "sal", "Prospecting", "10", "XYZ", "2027-12-31", "", "", "", "Large"], "currency"),
    (["Deal b9", "Account b", "sal", "Prospecting", "10", "USD", "2027-12-31", "", "", "", "Galactic"], "segment"),
]


@pytest.mark.parametrize("make_file", [as_csv, as_xlsx], ids=["csv", "xlsx"])
def test_every_refused_row_is_reported_and_nothing_is_written(people, make_file):
    rows = [good(n) for n in range(1, 21)] + [row for row, _ in BAD_ROWS]
    before = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count())
    run = run_through(people, make_file(rows))
    assert run.state == "refused" and run.error_count == len(BAD_ROWS)
    reported = {(line, field) for line, field, _ in run.errors}
    expected = {(22 + i, field) for i, (_, field) in enumerate(BAD_ROWS)}
    assert reported == expected, sorted(reported ^ expected)
    assert all(message for _, _, message in run.errors)
    assert (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()) == before
    assert_refused(lambda: import_runs.import_commit(user=people["admin"], run=run), "not-now")


@pytest.mark.parametrize("make_file", [as_csv, as_xlsx], ids=["csv", "xlsx"])
def test_a_clean_file_is_checked_then_written_at_once(people, make_file):
    account, contact, _ = make_deal(people, name="Account 3")  # exists: the rows of "account 3" attach to it
    rows = [good(n) for n in range(1, 21)]
    rows[2][8] = contact.email.upper()  # this contact exists at that account (any case)
    run = run_through(people, make_file(rows))
    assert run.state == "ready", run.errors
    assert run.summary == {"rows": 20, "accounts_new": 6, "accounts_existing": 1, "contacts_new": 19,
                           "contacts_existing": 1, "deals_new": 20}
    assert Opportunity.objects.count() == 1  # nothing written by the check
    import_runs.import_commit(user=people["admin"], run=run)
    assert import_runs.imports_work() == 1
    run.refresh_from_db()
    assert run.state == "done" and run.summary["made"] == {"accounts": 6, "contacts": 19, "deals": 20}
    deal = Opportunity.objects.get(name="Deal 5")
    assert (deal.account.name, deal.owner.username, deal.stage, str(deal.amount), deal.close_date.isoformat(),
            deal.segment) == ("Account 5", "sal", "1-discovery", "1005.50", "2027-12-31", "large")
    assert Opportunity.objects.filter(account=account).count() == 1 + 3  # deals 3, 10 and 17 joined its own deal
    assert not Thread.objects.filter(root_id=deal.pk).exists()  # opened on first use, as for any deal
    assert thread_for(deal).title == "Account 5: Deal 5"
    assert TimelineEvent.objects.filter(verb="opportunity.imported").count() == 20
    assert TimelineEvent.objects.filter(verb="import.done", subject_id=run.pk).exists()
    assert Timer.objects.filter(kind=Timer.Kind.OPPORTUNITY_INACTIVITY, subject_id=deal.pk).exists()


def test_the_same_file_twice_is_refused_as_duplicates(people):
    rows = [good(n) for n in range(1, 6)]
    run = run_through(people, as_csv(rows))
    import_runs.import_commit(user=people["admin"], run=run)
    import_runs.imports_work()
    again = run_through(people, as_csv(rows))
    assert again.state == "refused" and again.error_count == 5
    assert {f for _, f, _ in again.errors} == {"deal"} and "duplicate" in again.errors[0][2]


def test_what_changed_between_the_check_and_the_commit_is_judged_again(people):
    run = run_through(people, as_csv([good(1)]))
    assert run.state == "ready"
    make_deal(people, name="Account 1")
    Opportunity.objects.filter(account__name="Account 1").update(name="Deal 1")
    import_runs.import_commit(user=people["admin"], run=run)
    import_runs.imports_work()
    run.refresh_from_db()
    assert run.state == "refused" and Opportunity.objects.filter(name="Deal 1").count() == 1


def test_a_saved_preset_proposes_its_mapping_for_the_next_file(people):
    header = ["Customer", "Rep", "What"]
    data = "\n".join([",".join(header), "Acme,sal,Platform"]).encode()
    run = import_runs.import_upload(user=people["admin"], upload=SimpleUploadedFile("mine.csv", data))
    assert "account" not in run.mapping
    mapping = {"account": "Customer", "owner": "Rep", "deal": "What"}
    assert_refused(lambda: import_runs.import_map(user=people["admin"], run=run, mapping={"owner": "Rep"}),
                   "invalid-mapping")
    import_runs.import_map(user=people["admin"], run=run, mapping=mapping, default_segment="smb",
                           preset_name="Our spreadsheet")
    assert ImportPreset.objects.get(name="Our spreadsheet").mapping == mapping
    second = import_runs.import_upload(user=people["admin"], upload=SimpleUploadedFile("mine2.csv", data))
    assert {k: v for k, v in second.mapping.items() if v} == mapping


def test_bad_files_and_people_are_refused(people):
    admin = people["admin"]
    for name, data in (("report.pdf", b"%PDF-1.4"), ("empty.csv", b""), ("dup.csv", b"a,a\n1,2\n"),
                       ("binary.csv", b"\xff\xfe\x00\x01"), ("fake.xlsx", b"not a workbook")):
        assert_refused(lambda n=name, d=data: import_runs.import_upload(user=admin, upload=SimpleUploadedFile(n, d)),
                       "invalid-file")
    assert_refused(lambda: import_runs.import_upload(user=people["sal"], upload=as_csv([good(1)])), "forbidden")
    run = import_runs.import_upload(user=admin, upload=SimpleUploadedFile(
        "ragged.csv", ("\n".join([",".join(HEADER), ",".join(good(1) + ["extra"])])).encode()))
    import_runs.import_map(user=admin, run=run, mapping=run.mapping)
    import_runs.imports_work()
    run.refresh_from_db()
    assert run.state == "refused" and "more values" in run.errors[0][2]


def test_the_pages_take_a_file_through(client, people):
    client.force_login(people["admin"])
    response = client.post("/imports/", {"file": as_csv([good(1), good(2)])})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    page = client.get(f"/imports/{run.pk}/").content.decode()
    assert "Deal 1" in page and "Account 1" in page  # the preview
    fields = {f"map_{k}": v for k, v in run.mapping.items()}
    assert client.post(f"/imports/{run.pk}/map/", fields).status_code == 302
    assert 'hx-trigger="every 3s"' in client.get(f"/imports/{run.pk}/").content.decode()  # it follows the worker
    import_runs.imports_work()
    page = client.get(f"/imports/{run.pk}/").content.decode()
    assert "Import 2 deals" in page
    assert client.post(f"/imports/{run.pk}/commit/").status_code == 302
    import_runs.imports_work()
    assert Opportunity.objects.count() == 2
    client.force_login(people["sal"])
    assert client.get("/imports/").status_code == 403
    assert client.post("/imports/", {"file": as_csv([good(3)])}).status_code == 403


BIG = 100_000


def big_rows(bad: dict[int, tuple[int, str]]):
    """BIG Salesforce rows; at each row index in `bad`, the column given made wrong (a missing name, a bad e-mail,
    an unknown owner, or a deal repeated from the row before)."""
    for n in range(BIG):
        row = good(n)
        row[1] = f"Account {n // 4}"
        if n in bad:
            column, how = bad[n]
            row[column] = how if how != "repeat" else f"Deal {n - 1}"
            if how == "repeat":
                row[1] = f"Account {(n - 1) // 4}"
        yield row


BAD_AT = {17: (1, ""), 30_001: (8, "nobody@"), 65_432: (2, "ghost"), 99_998: (0, "repeat")}
BAD_FIELDS = {17: "account", 30_001: "contact_email", 65_432: "owner", 99_998: "deal"}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_hundred_thousand_rows_with_bad_ones_are_reported_and_nothing_is_written(people, kind, tmp_path):
    if kind == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(HEADER)
        writer.writerows(big_rows(BAD_AT))
        upload = SimpleUploadedFile("big.csv", text.getvalue().encode())
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(HEADER)
        for row in big_rows(BAD_AT):
            sheet.append(row)
        path = tmp_path / "big.xlsx"
        book.save(path)
        upload = SimpleUploadedFile("big.xlsx", path.read_bytes())
    run = run_through(people, upload)
    assert run.state == "refused" and run.rows_total == BIG
    assert [(line, field) for line, field, _ in run.errors] == [(n + 2, f) for n, f in BAD_FIELDS.items()]
    assert Opportunity.objects.count() == 0 and Account.objects.count() == 0


def test_the_commit_shows_its_progress_to_the_page_and_then_forgets_the_file(people, client, monkeypatch):
    from django.core.files.storage import default_storage

    run = run_through(people, as_csv([good(n) for n in range(10)]))
    stored = run.stored
    import_runs.import_commit(user=people["admin"], run=run)
    monkeypatch.setattr(import_runs, "PROGRESS_EVERY", 3)
    client.force_login(people["admin"])
    seen, pages = [], []
    real = import_runs._progress

    def watch(r, done):
        real(r, done)
        # What another process sees meanwhile: the run's row still says what it said before the commit began (its
        # updates are inside the commit's transaction), and the progress file says how far the worker is.
        seen.append(import_runs.rows_read(r))
        if done == 15:
            pages.append(client.get(f"/imports/{r.pk}/").content.decode())

    monkeypatch.setattr(import_runs, "_progress", watch)
    assert import_runs.imports_work() == 1
    assert max(seen) == 18 and 9 in seen  # two passes over 10 rows: the second counts on from the first
    assert "15 of 20 rows read over the two passes" in pages[0] and 'value="15"' in pages[0]
    run.refresh_from_db()
    assert run.state == ImportRun.State.DONE and run.stored == "" and not default_storage.exists(stored)
    assert not default_storage.exists(f"imports/{run.pk}.progress")
    assert Opportunity.objects.filter(name__startswith="Deal ").count() == 10


def test_prune_deletes_the_uploads_no_longer_needed_and_the_run_says_so(people, client):
    import datetime as dt

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from psops.core.housekeeping import prune

    old = import_runs.import_upload(user=people["admin"], upload=as_csv([good(1)]))
    recent = import_runs.import_upload(user=people["admin"], upload=as_csv([good(2)]))
    ImportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    assert prune()["import files"] == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.stored == "" and recent.stored and default_storage.exists(recent.stored)
    refusal = assert_refused(lambda: import_runs.import_map(user=people["admin"], run=old, mapping=old.mapping),
                             "not-now")
    assert "upload it again" in refusal.message
    client.force_login(people["admin"])
    page = client.get(f"/imports/{old.pk}/")
    assert page.status_code == 200 and "Choose the columns" in page.content.decode()


def test_a_mapping_without_a_segment_column_or_a_default_is_refused_before_any_row_is_read(people, client):
    run = import_runs.import_upload(user=people["admin"], upload=as_csv([good(1)]))
    mapping = {**run.mapping, "segment": ""}
    refusal = assert_refused(lambda: import_runs.import_map(user=people["admin"], run=run, mapping=mapping),
                             "invalid-mapping")
    assert refusal.field == "default_segment" and "segment for rows without one" in refusal.message
    client.force_login(people["admin"])
    page = client.post(f"/imports/{run.pk}/map/", {**{f"map_{f}": c for f, c in mapping.items()}})
    assert page.status_code == 400 and "segment for rows without one" in page.content.decode()
    import_runs.import_map(user=people["admin"], run=run, mapping=mapping, default_segment="smb")
    assert import_runs.imports_work() == 1
    run.refresh_from_db()
    assert run.state == ImportRun.State.READY
