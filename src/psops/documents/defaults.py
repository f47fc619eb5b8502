"""The templates psops ships: HTML for every PDF (files in defaults/), and the Word SOW, built here with python-docx
so that its source is readable code rather than a binary in the repository."""

from __future__ import annotations

import io

from .models import Format, Kind
from .rendering import default_text


def default_html(kind: str) -> str:
    return default_text(f"{Kind(kind).value}.html")


def _heading(document, text: str, level: int = 1) -> None:
    document.add_heading(text, level=level)


def _loop(document, items: str, heading: str) -> None:
    """A heading and one paragraph per item of a list of paragraphs (docxtpl's paragraph loop)."""
    document.add_paragraph(f"{{%p if {items} %}}")
    _heading(document, heading, 2)
    document.add_paragraph(f"{{%p for p in {items} %}}")
    document.add_paragraph("{{ p }}")
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph("{%p endif %}")


def default_sow_docx() -> bytes:
    """The Word SOW: the same facts as the PDF, in a document a customer can redline."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name = "DejaVu Sans"
    style.font.size = Pt(10)
    document.add_paragraph("{{ company.name }}")
    _heading(document, "Statement of work")
    document.add_paragraph("{{ reference }} version {{ sow.version }} · {{ date }}")
    document.add_paragraph("{{ sow.title }}")
    table = document.add_table(rows=4, cols=2)
    table.style = "Table Grid"
    for row, (label, value) in zip(table.rows, [("Customer", "{{ customer.name }}"),
                                                ("Contact", "{{ customer.contact }} {{ customer.email }}"),
                                                ("Engagement", "{{ sow.engagement }}"), ("Quote", "{{ sow.quote }}")],
                                   strict=True):
        row.cells[0].text, row.cells[1].text = label, value
    for items, heading in [("sow.scope", "Scope"), ("sow.deliverables", "Deliverables"),
                           ("sow.assumptions", "Assumptions"), ("sow.out_of_scope", "Out of scope")]:
        _loop(document, items, heading)
    _heading(document, "Price and billing", 2)
    document.add_paragraph("Price: {{ sow.price|money(currency) }}")
    document.add_paragraph("Billing terms: {{ sow.billing_terms }}, net {{ sow.net_days }} days from invoice")
    document.add_paragraph("{%p if sow.hourly_rate %}")
    document.add_paragraph("Hourly rate (time and materials): {{ sow.hourly_rate|money(currency) }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("{%p if sow.milestones %}")
    _heading(document, "Milestones", 2)
    milestones = document.add_table(rows=3, cols=3)
    milestones.style = "Table Grid"
    for cell, text in zip(milestones.rows[0].cells, ["Milestone", "Due", "Amount"], strict=True):
        cell.text = text
    milestones.rows[1].cells[0].text = "{%tr for m in sow.milestones %}"
    milestones.rows[2].cells[0].text = "{{ m.name }}"
    milestones.rows[2].cells[1].text = "{{ m.due_date }}"
    milestones.rows[2].cells[2].text = "{{ m.amount|money(currency) }}"
    last = milestones.add_row()
    last.cells[0].text = "{%tr endfor %}"
    document.add_paragraph("{%p endif %}")
    _loop(document, "sow.acceptance_terms", "Acceptance")
    _heading(document, "Signatures", 2)
    document.add_paragraph("For {{ company.name }}: name ____________  title ____________  date ____________")
    document.add_paragraph("For {{ customer.name }}: name {{ sow.signature.name or '____________' }}  "
                           "title {{ sow.signature.title or '____________' }}  "
                           "date {{ sow.signature.date or '____________' }}")
    footer = document.sections[0].footer.paragraphs[0]
    footer.text = ("{{ document.kind }} {{ reference }} · version {{ document.version }} · content fingerprint "
                   "(SHA-256) {{ document.content_sha256 }}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def default_template(kind: str, fmt: str) -> tuple[str, bytes]:
    """(HTML body, Word file) of the shipped template of `kind` in `fmt`."""
    if fmt == Format.DOCX:
        return "", default_sow_docx()
    return default_html(kind), b""
