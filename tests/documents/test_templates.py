"""The default templates print every fact of their kind; a template with an error is refused with its line and the
version in use stays in use; a template can read only the facts it is given."""

from __future__ import annotations

import io

import pytest

from psops.core.errors import ApplicationError
from psops.documents import services
from psops.documents.defaults import default_html, default_sow_docx
from psops.documents.models import DocumentTemplate, Kind
from psops.documents.rendering import TemplateRefused
from psops.documents.sources import SAMPLES, fingerprint
from tests.documents.conftest import docx_text, pdf_pages, pdf_text, picture

pytestmark = pytest.mark.django_db

# What each sample must show once printed: its own words, as a reader sees them.
EXPECTED = {
    Kind.ROM_SUMMARY: ["Services estimate (ROM)", "ROM-7 v2", "USD 30,000.00", "USD 45,000.00",
                       "Self-managed to SaaS migration", "Remote delivery."],
    Kind.QUOTE: ["Quote", "Q-00007", "SRV-MIGR-SM", "EUR 30,000.00", "EUR 10,000.00", "Subtotal EUR 40,000.00",
                 "Discount (5.00%) −EUR 2,000.00", "Total (EUR) EUR 38,000.00", "Valid until 2026-12-31",
                 "Prices exclude taxes."],
    Kind.SOW: ["Statement of work", "SOW-00007 version 2", "Platform migration to SaaS",
               "Migrate 250 users and 1,200 projects", "Runbook.", "Custom integrations.", "EUR 38,000.00",
               "net 30 days from invoice", "Cut-over 2026-12-15", "Accepted on completion.", "For Zürich Größe AG"],
    Kind.INVOICE: ["Invoice", "INV-2026-00042", "Due 2026-12-02", "100% on SOW signature: SOW-00007",
                   "Total (EUR) EUR 38,000.00", "Credit note CN-2026-00003: Late delivery −EUR 1,000.00",
                   "Balance due EUR 37,000.00", "株式会社 platform migration", "Pay by bank transfer"],
    Kind.CREDIT_NOTE: ["Credit note", "CN-2026-00003", "Against invoice INV-2026-00042", "Late delivery",
                       "Total credited (EUR) EUR 1,000.00"],
    Kind.SIGN_OFF: ["Statement of work completion", "PRJ-00007", "株式会社 platform migration", "SOW-00007 v2",
                    "Migrated instance.", "Signed off for Zürich Größe AG", "Name (Jürgen Groß)", "Title", "Date"],
}


@pytest.mark.parametrize("kind", list(Kind))
def test_each_default_template_prints_the_facts_of_its_kind(kind):
    data = services.template_render(kind=kind, fmt="pdf", body=default_html(kind))
    text = pdf_text(data)
    # The company block, the customer with non-ASCII names, and the footer on every page. (Labels print in capitals:
    # the words are compared whatever their case.)
    for words in ["psops Professional Services", "1 Market Street", "Zürich Größe AG", *EXPECTED[kind]]:
        assert words.casefold() in text.casefold(), f"{words!r} is missing from the {kind} PDF: {text[:600]}"
    assert f"Content fingerprint (SHA-256): {fingerprint(SAMPLES[kind])}" in text
    assert "version 1" in text and "Page 1 of" in text
    pictures = picture(data, kind)
    assert len(pictures) == len(pdf_pages(data)) >= 1 and all(p.stat().st_size > 5000 for p in pictures)


def test_the_word_sow_prints_the_same_facts():
    facts = services.with_document(SAMPLES[Kind.SOW], kind=Kind.SOW, version=3, generated_at="2026-11-30 10:00")
    text = docx_text(services.template_render(kind=Kind.SOW, fmt="docx", data=default_sow_docx(), facts=facts))
    for words in ["Statement of work", "SOW-00007 version 2", "Zürich Größe AG", "Jürgen Groß", "Scope",
                  "Migrate 250 users and 1,200 projects", "Out of scope", "Custom integrations.",
                  "Price: EUR 38,000.00", "Cut-over", "2026-12-15", "EUR 38,000.00", "Accepted on completion.",
                  "version 3", f"(SHA-256) {fingerprint(SAMPLES[Kind.SOW])}"]:
        assert words in text, f"{words!r} is missing from the Word SOW: {text[:600]}"
    assert "{{" not in text and "{%" not in text  # every field was filled


@pytest.mark.parametrize(("body", "line", "says"), [
    ("<h1>{{ reference }}</h1>\n<p>{{ customer.nmae }}</p>", 2, "unknown field"),
    ("<h1>x</h1>\n\n{% for line in quote.lines %}<p>{{ line }}</p>", 3, "Unexpected end of template"),
    ("<p>{{ total|money(currency }}</p>", 1, ""),
    ("<p>\n{{ ''.__class__.__mro__ }}</p>", 2, "not allowed"),
    ("{{ nothing_at_all }}", 1, "unknown field"),
])
def test_a_template_with_an_error_is_refused_with_its_line(body, line, says):
    with pytest.raises(TemplateRefused) as refused:
        services.template_render(kind=Kind.QUOTE, fmt="pdf", body=body)
    assert refused.value.line == line and refused.value.message.startswith(f"Line {line}: ")
    assert says in refused.value.message


def test_a_template_reads_no_file_and_no_url():
    body = ('<p>{{ reference }}</p><img src="file:///etc/hostname"><img src="http://127.0.0.1:9/x.png">'
            '<link rel="stylesheet" href="file:///etc/passwd">')
    data = services.template_render(kind=Kind.QUOTE, fmt="pdf", body=body)
    page = pdf_pages(data)[0]
    assert "Q-00007" in pdf_text(data)
    assert not page["/Resources"].get("/XObject")  # no image was loaded


def test_saving_a_template_makes_the_next_version_in_use(people):
    admin = people["admin"]
    first = services.template_in_use(Kind.QUOTE)
    assert first.version == 1 and first.created_by is None and "{{ quote.total|money(currency) }}" in first.body
    body = first.body.replace("<h2>Services</h2>", "<h2>Services we propose</h2>")
    saved = services.template_save(user=admin, kind=Kind.QUOTE, body=body, note="Friendlier heading")
    assert services.template_in_use(Kind.QUOTE) == saved and saved.version == 2 and saved.created_by == admin
    assert "Services we propose" in pdf_text(services.template_render(kind=Kind.QUOTE, fmt="pdf", body=saved.body))


def test_a_refused_template_leaves_the_version_in_use(people):
    in_use = services.template_in_use(Kind.INVOICE)
    broken = in_use.body.replace("{{ invoice.number }}", "{{ invoice.numbr }}", 1)
    with pytest.raises(TemplateRefused) as refused:
        services.template_save(user=people["admin"], kind=Kind.INVOICE, body=broken)
    assert "unknown field" in refused.value.message and "numbr" in refused.value.message
    assert services.template_in_use(Kind.INVOICE) == in_use and DocumentTemplate.objects.count() == 1
    for who in ("sal", "finance", "controller"):
        with pytest.raises(ApplicationError) as refused:
            services.template_save(user=people[who], kind=Kind.INVOICE, body=in_use.body)
        assert refused.value.code == "forbidden"
    assert DocumentTemplate.objects.filter(kind=Kind.INVOICE).count() == 1


@pytest.mark.parametrize(("data", "says"), [
    (b"", "choose a Word"),
    (b"%PDF-1.7 not a word file", "not a Word document"),
    (b"PK\x03\x04 a broken zip", "not a Word document"),
])
def test_a_word_template_must_be_a_word_document(people, data, says):
    with pytest.raises(TemplateRefused) as refused:
        services.template_save(user=people["admin"], kind=Kind.SOW, fmt="docx", data=data)
    assert says in refused.value.message
    assert not DocumentTemplate.objects.filter(format="docx").exists()


def test_a_word_template_with_an_unknown_field_is_refused(people):
    from docx import Document

    document = Document(io.BytesIO(default_sow_docx()))
    document.add_paragraph("{{ sow.secret_price }}")
    out = io.BytesIO()
    document.save(out)
    with pytest.raises(TemplateRefused) as refused:
        services.template_save(user=people["admin"], kind=Kind.SOW, fmt="docx", data=out.getvalue())
    assert "unknown field" in refused.value.message and "secret_price" in refused.value.message


def test_a_kind_is_made_only_in_its_formats(people):
    with pytest.raises(ApplicationError) as refused:
        services.template_save(user=people["admin"], kind=Kind.INVOICE, fmt="docx", data=default_sow_docx())
    assert refused.value.code == "unknown-format"
    with pytest.raises(ApplicationError) as refused:
        services.template_save(user=people["admin"], kind="contract", body="<p>x</p>")
    assert refused.value.code == "unknown-kind"



def test_the_system_check_says_what_to_install_when_pdfs_cannot_be_made(monkeypatch):
    from psops.documents import checks

    assert checks.check_pdf_engine() == []
    monkeypatch.setattr(checks.ctypes.util, "find_library", lambda name: None if "pango" in name else f"lib{name}")
    (problem,) = checks.check_pdf_engine()
    assert problem.id == "psops.E020" and "pango-1.0, pangoft2-1.0" in problem.msg
    assert "apt-get install libpango-1.0-0" in problem.hint


# A 1x1 PNG, written here byte by byte.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d4c2b80000000049454e44ae426082")


def test_the_administrator_sets_the_company_block_every_document_prints(people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from psops.activity.models import TimelineEvent

    services.company_profile_save(user=people["admin"], values={
        "name": "Nordlicht Beratung GmbH", "address": "Königstraße 1\n70173 Stuttgart", "tax_id": "DE123456789",
        "logo": SimpleUploadedFile("logo.png", PNG, content_type="image/png")})
    data = services.template_render(kind=Kind.INVOICE, fmt="pdf", body=default_html(Kind.INVOICE))
    text = pdf_text(data)
    assert "Nordlicht Beratung GmbH" in text and "Königstraße 1" in text and "Tax ID DE123456789" in text
    assert pdf_pages(data)[0]["/Resources"]["/XObject"]  # the logo is printed
    assert TimelineEvent.objects.filter(verb="company.saved").count() == 1
    with pytest.raises(ApplicationError) as refused:
        services.company_profile_save(user=people["finance"], values={"name": "Hijacked"})
    assert refused.value.code == "forbidden"


def test_the_logo_must_be_a_small_png_or_jpeg():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from psops.documents.admin import MAX_LOGO_BYTES, CompanyProfileForm

    base = {"name": "X", "address": "Y", "email": "x@example.com"}
    for name, data, says in [("logo.png", b"GIF89a not a png", "must be a PNG or JPEG"),
                             ("logo.png", PNG + b"0" * MAX_LOGO_BYTES, "at most 512 KB")]:
        form = CompanyProfileForm(base, {"logo": SimpleUploadedFile(name, data)})
        assert not form.is_valid() and says in str(form.errors["logo"])
    assert CompanyProfileForm(base, {"logo": SimpleUploadedFile("logo.png", PNG)}).is_valid()


def test_templates_are_edited_checked_and_previewed_in_the_administration(client):
    from psops.workflow.demo import ensure_users

    ensure_users()
    client.login(username="admin", password="demo")
    add = "/admin/documents/documenttemplate/add/"
    page = client.get(add + "?kind=quote&format=pdf").content.decode()
    assert "blocks.letterhead(company, &quot;Quote&quot;" in page  # the version in use, to edit
    body = services.template_in_use(Kind.QUOTE).body
    broken = client.post(add, {"kind": "quote", "format": "pdf", "body": body + "\n{{ quote.nothing }}",
                               "_save": "1"})
    assert broken.status_code == 200 and "unknown field" in broken.content.decode()
    sent = (body + "\n{{ quote.nothing }}").strip().splitlines()
    assert f"Line {sent.index('{{ quote.nothing }}') + 1}:" in broken.content.decode()
    preview = client.post(add, {"kind": "quote", "format": "pdf", "body": body.replace("Services", "Our services"),
                                "_preview": "1"})
    assert preview["Content-Type"] == "application/pdf" and "Our services" in pdf_text(preview.content)
    assert DocumentTemplate.objects.filter(kind="quote").count() == 1  # neither saved anything
    saved = client.post(add, {"kind": "quote", "format": "pdf", "body": body.replace("Services", "Our services"),
                              "note": "Warmer", "_save": "1"})
    assert saved.status_code == 302
    assert services.template_in_use(Kind.QUOTE).version == 2 and "Our services" in services.template_in_use(
        Kind.QUOTE).body
