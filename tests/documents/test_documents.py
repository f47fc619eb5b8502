"""Documents of real engagements: made when they are sent (and attached), queued where they can wait and made by
the worker, versioned, downloaded by who sees the deal, shown to the customer who answers that exact file, checked
byte for byte, uploaded back with the customer's redlines, exported with a manifest."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from psops.documents import services
from psops.documents.models import Document, Kind
from psops.documents.sources import SAMPLES, SOURCES
from psops.sales.models import Quote, Sow
from tests.builders_concurrency import staff
from tests.documents.conftest import docx_text, pdf_text
from tests.factories import reach
from tests.portal.conftest import link_path, shown_fields
from tests.test_timers import run_worker as run_timer_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(people, django_capture_on_commit_callbacks):
    """`sent(stage)` -> the engagement at `stage`, the e-mails of its sends delivered to the test outbox."""

    def _sent(stage: str, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return reach(people, stage, **options)

    return _sent


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored(document: Document) -> bytes:
    data = services.read_bytes(document)
    assert data is not None and hashlib.sha256(data).hexdigest() == document.sha256
    return data


def test_sending_the_quote_makes_its_pdf_and_attaches_it(sent):
    e = sent("quote-sent", name="Zürich Größe AG")
    quote = Quote.objects.get(pk=e.quote.pk)
    document = services.current_document(quote, Kind.QUOTE)
    assert (document.version, document.state, document.origin) == (1, "ready", "generated")
    assert document.opportunity == e.opp and document.template.version == 1
    text = pdf_text(stored(document))
    for line in quote.lines.all():
        assert line.code in text and f"{quote.currency} {line.amount:,}" in text
    assert "Zürich Größe AG" in text and f"Total ({quote.currency}) {quote.currency} {quote.total:,}" in text
    assert str(quote) in text and f"Content fingerprint (SHA-256): {document.content_sha256}" in text
    email = next(m for m in mail.outbox if e.contact.email in m.to)
    (name, content, mime), = email.attachments
    assert (name, mime) == (document.filename, "application/pdf")
    assert hashlib.sha256(content).hexdigest() == document.sha256


def test_sending_the_sow_makes_it_in_pdf_and_in_word(sent):
    e = sent("sow-sent")
    sow = Sow.objects.get(pk=e.sow.pk)
    pdf = services.current_document(sow, Kind.SOW)
    word = services.current_document(sow, Kind.SOW, "docx")
    assert pdf.version == word.version == 1
    for text in (pdf_text(stored(pdf)), docx_text(stored(word))):
        assert sow.title in text and sow.scope.split("\n")[0][:40] in text
        assert f"{sow.currency} {sow.price:,}" in text and e.account.name in text
    email = [m for m in mail.outbox if e.contact.email in m.to][-1]
    assert sorted(a[0] for a in email.attachments) == sorted([pdf.filename, word.filename])


def test_the_facts_of_real_records_have_the_shape_of_the_samples(sent, people):
    """A template checked against the sample record of its kind reads the same fields as one made from a real
    record: the two shapes are the same, key for key."""
    e = sent("signed-off")
    project = e.project
    invoice = project.invoices.first()
    from psops.billing import services as billing

    note = billing.credit_note_issue(user=people["finance"], invoice=invoice, amount="1", reason="Goodwill")
    for kind, record in [(Kind.ROM_SUMMARY, e.rom), (Kind.QUOTE, e.quote), (Kind.SOW, e.sow),
                         (Kind.INVOICE, invoice), (Kind.CREDIT_NOTE, note), (Kind.SIGN_OFF, project)]:
        record = type(record).objects.get(pk=record.pk)
        assert differences(SOURCES[kind].facts(record), SAMPLES[kind]) == [], kind


def differences(real, sample, where="") -> list[str]:
    """Where two facts differ in shape: keys of dicts, and the items of lists (an empty list matches any list)."""
    if isinstance(sample, dict):
        if not isinstance(real, dict) or set(real) != set(sample):
            return [f"{where or 'top'}: {sorted(set(real) ^ set(sample)) if isinstance(real, dict) else real}"]
        return [d for key in sample for d in differences(real[key], sample[key], f"{where}.{key}")]
    if isinstance(sample, list):
        if not isinstance(real, list):
            return [f"{where}: not a list"]
        return differences(real[0], sample[0], f"{where}[0]") if real and sample else []
    return [] if not isinstance(real, dict | list) else [f"{where}: not a plain value"]


# The worker runs in this process and closes a connection left in a transaction (as it would a broken one): the
# test commits for real, as the worker's own tests do, and so first puts back the data the migrations load.
@pytest.mark.django_db(transaction=True)
def test_an_invoice_is_made_by_the_worker_and_regenerating_keeps_the_old_version(django_capture_on_commit_callbacks):
    people = staff()
    with django_capture_on_commit_callbacks(execute=True):
        e = reach(people, "invoiced")
    invoice = e.project.invoices.get()
    queued = services.latest_document(invoice, Kind.INVOICE)
    assert queued.state == "queued" and not queued.file
    page = logged_in(people["finance"]).get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Being generated" in page
    assert run_worker() >= 1
    first = services.current_document(invoice, Kind.INVOICE)
    assert first.pk == queued.pk and first.state == "ready" and invoice.number in pdf_text(stored(first))
    client = logged_in(people["finance"])
    response = client.post(f"/r/invoice/{invoice.pk}/act/document/")
    assert response.status_code == 302
    run_worker()
    versions = list(Document.objects.filter(kind=Kind.INVOICE, subject_id=invoice.pk).order_by("version"))
    assert [(d.version, d.state) for d in versions] == [(1, "ready"), (2, "ready")]
    assert stored(versions[0]) and stored(versions[1]) and "version 2" in pdf_text(stored(versions[1]))
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f"/documents/{versions[0].pk}/" in page and f"/documents/{versions[1].pk}/" in page


def run_worker() -> int:
    """`psops worker --batch`, as cron runs it: how many documents it made."""
    before = Document.objects.filter(state="ready").count()
    run_timer_worker()
    return Document.objects.filter(state="ready").count() - before


def test_a_document_that_cannot_be_made_says_why_and_is_given_up(sent, people):
    e = sent("invoiced")
    invoice = e.project.invoices.get()
    # The template in use cannot render (a row altered under the service, which never saves a broken one).
    services.template_in_use(Kind.INVOICE).__class__.objects.filter(kind=Kind.INVOICE).update(
        body="{{ invoice.no_such_field }}")
    for _ in range(services.MAX_ATTEMPTS):
        services.documents_render_queued()
    document = services.latest_document(invoice, Kind.INVOICE)
    assert document.state == "failed" and "no_such_field" in document.error and not document.sha256
    page = logged_in(people["finance"]).get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Failed" in page and "no_such_field" in page
    assert logged_in(people["finance"]).get(f"/documents/{document.pk}/").status_code == 404


def test_who_may_download_a_document(sent, people):
    e = sent("quote-sent")
    document = services.current_document(e.quote, Kind.QUOTE)
    response = logged_in(people["finance"]).get(f"/documents/{document.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff" and document.filename in response["Content-Disposition"]
    assert hashlib.sha256(response.content).hexdigest() == document.sha256
    # A sales rep who does not see the deal is told it does not exist; so is anybody asking for a made-up number.
    assert logged_in(people["sal2"]).get(f"/documents/{document.pk}/").status_code == 404
    assert logged_in(people["finance"]).get("/documents/999999/").status_code == 404
    assert Client().get(f"/documents/{document.pk}/").status_code == 302  # to the login page


def test_the_customer_answers_the_exact_document_shown(sent, client, people):
    e = sent("quote-sent")
    path = link_path(e.contact)
    page = client.get(path).content.decode()
    shown = services.current_document(e.quote, Kind.QUOTE)
    assert f"/documents/{shown.pk}/" in page and shown.sha256 in page
    download = client.get(f"{path}documents/{shown.pk}/")
    assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == shown.sha256
    fields = shown_fields(client, path)
    # The rep makes a new version while the customer reads the old one: the answer is refused and nothing changes.
    services.document_regenerate(user=people["sal"], record=e.quote, kind=Kind.QUOTE)
    services.documents_render_queued()
    response = client.post(path, {"action": "accept", **fields})
    assert response.status_code == 400 and "The document changed since it was shown to you" in response.content.decode()
    assert Quote.objects.get(pk=e.quote.pk).state == "sent"
    # Reading the page again shows version 2, and accepting it records that file.
    response = client.post(path, {"action": "accept", **shown_fields(client, path)})
    assert response.status_code == 200
    quote = Quote.objects.get(pk=e.quote.pk)
    current = services.current_document(quote, Kind.QUOTE)
    assert current.version == 2 and quote.accepted_document == current and quote.accepted_sha256 == current.sha256
    # A link that has been used offers no document any more.
    assert client.get(f"{path}documents/{current.pk}/").status_code == 410


def test_a_link_offers_only_its_own_documents(sent, client):
    e = sent("quote-sent")
    other = sent("quote-sent", name="Other Corp")
    path = link_path(e.contact)
    theirs = services.current_document(other.quote, Kind.QUOTE)
    assert client.get(f"{path}documents/{theirs.pk}/").status_code == 404
    assert client.get(f"{path}documents/0/").status_code == 404
    assert client.get(f"{path[:-5]}xxxx/documents/{theirs.pk}/").status_code == 404


def test_a_signed_sow_whose_file_was_altered_says_so(sent, people):
    e = sent("sow-signed")
    sow = Sow.objects.get(pk=e.sow.pk)
    signature = sow.signature
    assert signature.document == services.current_document(sow, Kind.SOW)
    client = logged_in(people["pse"])
    assert "this exact file" in client.get(f"/sows/{sow.pk}/").content.decode()
    document = signature.document
    with document.file.open("wb") as handle:  # somebody edits the stored file behind psops' back
        handle.write(b"%PDF-1.7 altered")
    page = client.get(f"/sows/{sow.pk}/").content.decode()
    assert "Not the signed file" in page and "has been altered or lost since it was signed" in page
    assert services.signed_document_warning(document, signature.document_sha256)


def test_the_customers_redlines_are_kept_as_a_new_version(sent, people):
    e = sent("sow-sent")
    sow = Sow.objects.get(pk=e.sow.pk)
    client = logged_in(people["pse"])
    word = services.current_document(sow, Kind.SOW, "docx")
    upload = io.BytesIO(stored(word))
    upload.name = "SOW redlined by Acme.docx"
    response = client.post(f"/r/sow/{sow.pk}/act/upload/", {"upload-file": upload, "upload-note": "Legal's redlines"})
    assert response.status_code == 302
    kept = services.current_document(sow, Kind.SOW, "docx")
    assert (kept.version, kept.origin, kept.note) == (2, "uploaded", "Legal's redlines")
    assert kept.sha256 == word.sha256 and kept.template is None


@pytest.mark.parametrize(("name", "data", "says"), [
    ("notes.txt", b"hello", "is not a Word (.docx) or PDF file"),
    ("fake.docx", b"this is not a zip", "is not a Word (.docx) or PDF file"),
    ("fake.pdf", b"PK\x03\x04 zip pretending", "is not a Word (.docx) or PDF file"),
    ("empty.pdf", b"", "The submitted file is empty."),
    ("huge.pdf", b"%PDF-" + b"0" * services.MAX_UPLOAD_BYTES, "at most 10 MB is taken"),
])
def test_an_upload_of_the_wrong_type_or_size_is_refused(sent, people, name, data, says):
    e = sent("sow-sent")
    before = Document.objects.count()
    upload = io.BytesIO(data)
    upload.name = name
    response = logged_in(people["pse"]).post(f"/r/sow/{e.sow.pk}/act/upload/", {"upload-file": upload})
    assert response.status_code == 400 and says in response.content.decode()
    assert Document.objects.count() == before


def test_only_the_sows_people_upload_and_never_to_a_signed_sow(sent, people):
    e = sent("sow-signed")
    upload = io.BytesIO(b"%PDF-1.7 x")
    upload.name = "late.pdf"
    response = logged_in(people["pse"]).post(f"/r/sow/{e.sow.pk}/act/upload/", {"upload-file": upload})
    assert response.status_code == 400 and "is signed; its documents never change" in response.content.decode()
    assert Document.objects.filter(origin="uploaded").count() == 0
    e2 = sent("sow-sent", name="Second Corp")
    upload.seek(0)
    response = logged_in(people["finance"]).post(f"/r/sow/{e2.sow.pk}/act/upload/", {"upload-file": upload})
    assert response.status_code == 403 and Document.objects.filter(origin="uploaded").count() == 0


def test_the_sign_off_document_is_sent_and_signed_as_one_file(sent, client, people):
    e = sent("wrap-up-ready")
    request, project = e.sign_off, e.project
    document = request.document
    assert document.kind == "sign-off" and document.state == "ready" and document.subject == project
    text = pdf_text(stored(document))
    assert project.name in text and "Statement of work completion" in text and e.account.name in text
    email = [m for m in mail.outbox if e.contact.email in m.to][-1]
    assert [a[0] for a in email.attachments] == [document.filename]
    path = link_path(e.contact)
    assert f"documents/{document.pk}/" in client.get(path).content.decode()
    response = client.post(path, {"action": "sign", "name": "Casey Customer", "title": "CTO",
                                  **shown_fields(client, path)})
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == "accepted" and request.document_sha256 == document.sha256
    page = logged_in(people["sal"]).get(f"/projects/{project.pk}/").content.decode()
    assert "Signed by Casey Customer" in page and "this exact file" in page


def test_export_writes_every_current_document_with_a_manifest_that_matches(sent, tmp_path):
    e = sent("invoiced")
    other = sent("quote-sent", name="Other Corp")
    services.documents_render_queued()
    out = tmp_path / "export"
    call_command("documents", "export", "--all", "--out", str(out), stdout=io.StringIO())
    manifest = json.loads((out / "manifest.json").read_text())["documents"]
    assert {d["engagement"] for d in manifest} == {e.opp.pk, other.opp.pk}
    kinds = sorted(d["kind"] for d in manifest if d["engagement"] == e.opp.pk)
    assert kinds == ["invoice", "quote", "rom-summary", "sow", "sow"]
    for entry in manifest:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] == entry["recorded_sha256"]
        assert entry["file"].startswith(f"engagement-{entry['engagement']}/")
    one = tmp_path / "one"
    call_command("documents", "export", "--engagement", str(other.opp.pk), "--out", str(one), stdout=io.StringIO())
    assert [d["kind"] for d in json.loads((one / "manifest.json").read_text())["documents"]] == ["quote",
                                                                                                 "rom-summary"]


def test_export_names_a_file_that_no_longer_matches(sent, tmp_path):
    e = sent("quote-sent")
    document = services.current_document(e.quote, Kind.QUOTE)
    with document.file.open("wb") as handle:
        handle.write(b"tampered")
    err = io.StringIO()
    with pytest.raises(SystemExit) as ended:
        call_command("documents", "export", "--all", "--out", str(tmp_path), stdout=io.StringIO(), stderr=err)
    assert ended.value.code == 1 and "does not match its recorded SHA-256" in err.getvalue()


@pytest.mark.parametrize("args", [
    [], ["export"], ["export", "--all"], ["export", "--engagement", "x", "--out", "/tmp/x"],
    ["export", "--all", "--engagement", "1", "--out", "/tmp/x"], ["print"],
])
def test_export_refuses_bad_arguments_with_one_line_and_status_2(args):
    run = subprocess.run([sys.executable, "-m", "psops.manage", "documents", *args], capture_output=True, text=True,
                         env={"PSOPS_DEBUG": "1", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr and not run.stdout


def test_a_record_page_costs_the_same_with_one_document_or_many(sent, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    e = sent("quote-sent")
    client = logged_in(people["sal"])
    url = f"/quotes/{e.quote.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(4):
        services.document_regenerate(user=people["sal"], record=e.quote, kind=Kind.QUOTE)
    services.documents_render_queued()
    with CaptureQueriesContext(connection) as five:
        page = client.get(url).content.decode()
    assert len(one) == len(five)
    assert all(f"/documents/{d.pk}/" in page for d in Document.objects.filter(subject_id=e.quote.pk, kind="quote"))


def test_finance_sends_an_issued_invoice_with_its_pdf(sent, people, django_capture_on_commit_callbacks):
    from psops.activity.models import TimelineEvent
    from psops.crm.models import Contact

    e = sent("invoiced")
    invoice = e.project.invoices.get()
    client = logged_in(people["finance"])
    assert "Send to the customer" in client.get(f"/invoices/{invoice.pk}/").content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/r/invoice/{invoice.pk}/act/send/", {"send-contact": e.contact.pk})
    assert response.status_code == 302
    # The worker had not made the PDF yet: sending made it at once.
    current = services.current_document(invoice, Kind.INVOICE)
    (email,) = mail.outbox
    assert email.to == [e.contact.email] and invoice.number in email.subject
    (name, content, mime), = email.attachments
    assert (name, mime) == (current.filename, "application/pdf")
    assert hashlib.sha256(content).hexdigest() == current.sha256 and invoice.number in pdf_text(content)
    event = TimelineEvent.objects.get(verb="invoice.sent")
    assert event.data["sha256"] == current.sha256 and event.data["to"] == e.contact.email
    # Only Finance sends, and only to the customer's own contacts.
    stranger = sent("deal", name="Stranger Corp").contact
    mail.outbox.clear()
    response = client.post(f"/r/invoice/{invoice.pk}/act/send/", {"send-contact": stranger.pk})
    assert response.status_code == 400 and not mail.outbox
    response = logged_in(people["controller"]).post(f"/r/invoice/{invoice.pk}/act/send/",
                                                    {"send-contact": e.contact.pk})
    assert response.status_code == 403 and not mail.outbox
    assert Contact.objects.filter(pk=stranger.pk).exists()
