"""Reading documents back: the text of a PDF (pypdf), of a Word file (python-docx), and a picture of each page
(`pdftoppm`) kept under test-artifacts/documents for a person to look at."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"


def pdf_text(data: bytes) -> str:
    """The words of every page, whitespace folded (a line break in the PDF is a space here)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "") for page in reader.pages).split())


def pdf_pages(data: bytes) -> list:
    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(data)).pages)


def docx_text(data: bytes) -> str:
    """Paragraphs, table cells, headers and footers of a Word file, whitespace folded."""
    from docx import Document

    document = Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in document.sections:
        parts.extend(p.text for p in section.footer.paragraphs)
    return " ".join(" ".join(parts).split())


def picture(data: bytes, name: str) -> list[Path]:
    """Every page of a PDF as a PNG under test-artifacts/documents/<name>-<page>.png."""
    if not shutil.which("pdftoppm"):
        message = "needs pdftoppm to picture the PDFs: install it with `apt-get install poppler-utils` (Debian)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-", str(ARTIFACTS / name)], input=data, check=True,
                   capture_output=True)
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))
