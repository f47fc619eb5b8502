"""Turning a template and the facts of a record into bytes: HTML to PDF (WeasyPrint) and .docx (docxtpl).

Templates are Jinja, run in a sandbox with strict fields: an administrator who writes a template can print the facts
psops hands it and nothing else (no attribute of a Python object, no file, no network), and a field that does not
exist is an error naming its line, never a silently blank space in a contract. The facts are plain data (strings,
numbers, lists, dicts) built by documents.sources. PDFs load no outside resource: only `data:` URLs (the logo).
"""

from __future__ import annotations

import io
import traceback
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from psops.core.errors import ApplicationError
from psops.core.money import fmt

DEFAULTS = Path(__file__).parent / "defaults"
TEMPLATE_NAME = "<template>"
# Bytes of a template, for the form's limit and the upload of a Word template.
MAX_TEMPLATE_BYTES = 512 * 1024


class TemplateRefused(ApplicationError):
    """A template that cannot be used: the message names the line and what is wrong there."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        where = f"Line {line}: " if line else ""
        super().__init__(code="template-invalid", message=f"{where}{message}", field="body")
        self.line = line


def _money(amount: object, currency: str = "USD") -> str:
    if amount is None or amount == "":
        return ""
    try:
        return fmt(Decimal(str(amount)), currency)
    except (InvalidOperation, ApplicationError):
        return str(amount)


def _number(value: object) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{number:,}"


def default_text(name: str) -> str:
    return (DEFAULTS / name).read_text(encoding="utf-8")


def _environment(*, autoescape: bool) -> SandboxedEnvironment:
    # "blocks": the letterhead, parties, signature and section macros the default templates import.
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True,
                               lstrip_blocks=True, loader=DictLoader({"blocks": default_text("blocks.html")}))
    env.filters["money"] = _money
    env.filters["number"] = _number
    return env


HTML_ENV = _environment(autoescape=True)
DOCX_ENV = _environment(autoescape=False)  # docxtpl escapes for XML itself (render(autoescape=True))


def _line_of(error: BaseException) -> int | None:
    """The template line an error happened at: Jinja puts the template's own lines in the traceback."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == TEMPLATE_NAME]
    return lines[-1] if lines else getattr(error, "lineno", None)


def _explain(error: BaseException) -> str:
    if isinstance(error, UndefinedError):
        return f"unknown field: {error.message}."
    if isinstance(error, SecurityError):
        return f"not allowed in a template: {error}."
    return f"{type(error).__name__}: {error}"


def compile_html(body: str):
    try:
        return HTML_ENV.from_string(body)
    except TemplateSyntaxError as error:
        raise TemplateRefused(f"{error.message}.", line=error.lineno) from error


RENDER_ERRORS = (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError, LookupError)
LAYOUT = HTML_ENV.from_string(default_text("layout.html"))


def render_html(body: str, facts: dict) -> str:
    """The whole HTML page: the template filled with `facts`, inside the layout (page size, fonts, and the footer
    with the reference, version and content fingerprint on every page); or TemplateRefused naming the line of the
    template's first error."""
    template = compile_html(body)
    try:
        content = template.render(facts)
    except RENDER_ERRORS as error:
        raise TemplateRefused(_explain(error), line=_line_of(error)) from error
    return LAYOUT.render({**facts, "content": Markup(content)})


def pdf_from_html(html: str) -> bytes:
    # Imported when first used: WeasyPrint loads pango, which no page view needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Only `data:` URLs: a template cannot make the server read a file or fetch a URL.
    return HTML(string=html, base_url=None, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


DOCX_MAGIC = b"PK\x03\x04"


def is_docx(data: bytes) -> bool:
    """A Word document: a zip holding word/document.xml."""
    if not data.startswith(DOCX_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False


def is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def render_docx(template: bytes, facts: dict) -> bytes:
    """The Word template filled with `facts` (docxtpl), or TemplateRefused saying what is wrong and where."""
    from docxtpl import DocxTemplate

    if not is_docx(template):
        raise TemplateRefused("this is not a Word document (.docx).")
    try:
        document = DocxTemplate(io.BytesIO(template))
        document.render(facts, jinja_env=DOCX_ENV, autoescape=True)
    except TemplateSyntaxError as error:
        raise TemplateRefused(f"{error.message} (in the document's text).", line=None) from error
    except RENDER_ERRORS as error:
        raise TemplateRefused(f"{_explain(error)} (in the document's text).") from error
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
