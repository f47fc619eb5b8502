"""Making, storing, checking and exporting documents; saving template versions (issue 9).

- A document of a record is generated from the template in use for its kind, as the next version; the old versions
  stay. Where it can wait (an invoice, a ROM summary) it is queued and the worker generates it
  (`documents_render_queued`, a sweep of `psops worker`); where it cannot (the quote, SOW and sign-off a customer is
  sent), the sending act generates it at once, in its own transaction, and attaches it to the e-mail.
- The file's SHA-256 is kept with it. A customer's acceptance or signature names the SHA-256 of the document the
  page showed them, and is refused if that is not the current version (`document_shown_check`); every page that
  shows a signed document re-reads the file and says whether it is still byte for byte the signed one
  (`signed_document_warning`).
- A template version is saved only once it renders the sample record of its kind without an error; otherwise the
  refusal names the line and the version in use stays in use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from psops.activity.services import event_record, events_record, thread_for, threads_of
from psops.core.errors import ApplicationError
from psops.core.permissions import require

from .defaults import default_template
from .models import Document, DocumentTemplate, Format, Kind
from .rendering import MAX_TEMPLATE_BYTES, TemplateRefused, is_docx, is_pdf, pdf_from_html, render_docx, render_html
from .rules import generate_perm
from .sources import SAMPLES, SOURCES, Source, with_document

logger = logging.getLogger("psops.documents")

# Uploads (a SOW returned with the customer's redlines): Word or PDF, at most this many bytes.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# A document claimed by a worker that has not finished it after this long is generated again by another.
RENDER_LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3
SWEEP_BATCH = 20


# --- Templates --------------------------------------------------------------------------------------------------


def template_in_use(kind: str, fmt: str = Format.PDF) -> DocumentTemplate:
    """The newest version of the template of `kind` in `fmt`; the shipped one becomes version 1 on first use."""
    template = DocumentTemplate.objects.filter(kind=kind, format=fmt).order_by("-version").first()
    if template is not None:
        return template
    body, data = default_template(kind, fmt)
    try:
        with transaction.atomic():
            return _template_create(kind=kind, fmt=fmt, body=body, data=data, user=None, version=1,
                                    note="Shipped with psops")
    except IntegrityError:  # another process installed it at the same moment
        return DocumentTemplate.objects.get(kind=kind, format=fmt, version=1)


def _template_create(*, kind: str, fmt: str, body: str, data: bytes, user: Any, version: int,
                     note: str) -> DocumentTemplate:
    content = data if fmt == Format.DOCX else body.encode()
    template = DocumentTemplate(kind=kind, format=fmt, version=version, body=body, note=note[:200],
                                sha256=hashlib.sha256(content).hexdigest(), created_by=user)
    if fmt == Format.DOCX:
        template.file.save(f"{kind}-v{version}.docx", ContentFile(data), save=False)
    template.save()
    return template


def template_formats(kind: str) -> tuple[str, ...]:
    return SOURCES[Kind(kind)].formats


def _check_kind_format(kind: str, fmt: str) -> None:
    if kind not in Kind.values:
        raise ApplicationError(code="unknown-kind", message=f"Unknown kind of document '{kind}'; expected one of: "
                                                            f"{', '.join(Kind.values)}.", field="kind")
    if fmt not in template_formats(kind):
        raise ApplicationError(code="unknown-format", field="format",
                               message=f"A {Kind(kind).label} is made as {', '.join(template_formats(kind))} only.")


def _now_label() -> str:
    """When a document was made, as its footer prints it."""
    return timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")


def template_render(*, kind: str, fmt: str, body: str = "", data: bytes = b"", facts: dict | None = None) -> bytes:
    """A template version filled with `facts` (the sample record of its kind when none are given): the file's
    bytes, or TemplateRefused naming the line of the first error."""
    _check_kind_format(kind, fmt)
    facts = facts if facts is not None else with_document(SAMPLES[Kind(kind)], kind=kind, version=1,
                                                         generated_at=_now_label())
    if fmt == Format.DOCX:
        if not data:
            raise TemplateRefused("choose a Word (.docx) file.")
        if len(data) > MAX_UPLOAD_BYTES:
            raise TemplateRefused(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        return render_docx(data, facts)
    if not body.strip():
        raise TemplateRefused("the template is empty.")
    if len(body.encode()) > MAX_TEMPLATE_BYTES:
        raise TemplateRefused(f"the template is larger than {MAX_TEMPLATE_BYTES // 1024} KB.")
    return pdf_from_html(render_html(body, facts))


def template_save_check(*, user: Any) -> None:
    require(user, "documents.edit_template", message="Only an administrator edits document templates.")


def template_save(*, user: Any, kind: str, fmt: str = Format.PDF, body: str = "", data: bytes = b"",
                  note: str = "") -> DocumentTemplate:
    """Save a new version of a template; it is in use from now on. Refused, with the line, unless it renders the
    sample record of its kind; the version in use then stays in use."""
    template_save_check(user=user)
    template_render(kind=kind, fmt=fmt, body=body, data=data)
    current = template_in_use(kind, fmt)
    with transaction.atomic():
        version = (DocumentTemplate.objects.filter(kind=kind, format=fmt).aggregate(v=Max("version"))["v"] or 0) + 1
        try:
            with transaction.atomic():
                template = _template_create(kind=kind, fmt=fmt, body=body, data=data, user=user, version=version,
                                            note=note)
        except IntegrityError as exc:
            raise ApplicationError(code="conflict", message="Someone saved this template at the same moment; "
                                                            "reload it and save again.") from exc
        event_record(actor=user, subject=template, verb="template.saved",
                     message=f"{user} saved {template} (was v{current.version})"
                             + (f": {note[:200]}" if note else ""))
    return template


# --- Documents --------------------------------------------------------------------------------------------------


def _source(record: models.Model, kind: str) -> Source:
    source = SOURCES.get(kind)  # type: ignore[call-overload]
    if source is None or not isinstance(record, source.model):
        raise ApplicationError(code="no-such-document", message=f"{record} has no {kind} document.")
    return source


def _of(record: models.Model, kind: str, fmt: str):
    return Document.objects.filter(subject_type=ContentType.objects.get_for_model(record), subject_id=record.pk,
                                   kind=kind, format=fmt)


def latest_document(record: models.Model, kind: str, fmt: str = Format.PDF) -> Document | None:
    """The newest version of a record's document, whatever its state."""
    return _of(record, kind, fmt).order_by("-version").first()


def current_document(record: models.Model, kind: str, fmt: str = Format.PDF) -> Document | None:
    """The newest ready version of a record's document: the one a customer is shown."""
    return _of(record, kind, fmt).filter(state=Document.State.READY).order_by("-version").first()


def document_generate_check(*, user: Any, record: models.Model, kind: str) -> None:
    source = _source(record, kind)
    require(user, generate_perm(kind), record,
            message=f"Only the people who work on it make the {Kind(kind).label.lower()}.")
    if not user.has_perm("crm.view_deal", source.deal(record)):
        raise ApplicationError(code="forbidden", message="That deal is not yours to see.")


def _row(record: models.Model, *, kind: str, fmt: str, version: int, deal: Any, user: Any, origin: str,
         template: DocumentTemplate | None, note: str = "") -> Document:
    reference = SOURCES[Kind(kind)].reference(record)
    return Document(subject_type=ContentType.objects.get_for_model(record), subject_id=record.pk, opportunity=deal,
                    kind=kind, format=fmt, version=version, origin=origin, template=template, note=note[:300],
                    filename=f"{Kind(kind).value}-{reference}-v{version}.{fmt}".replace(" ", "_").replace("/", "-"),
                    created_by=user if getattr(user, "is_authenticated", False) else None)


def _new_version(record: models.Model, *, kind: str, fmt: str, deal: Any, user: Any, origin: str,
                 template: DocumentTemplate | None, note: str = "") -> Document:
    """The next version's row (a unique constraint holds two made at once apart: one is refused)."""
    version = (_of(record, kind, fmt).aggregate(v=Max("version"))["v"] or 0) + 1
    try:
        with transaction.atomic():
            document = _row(record, kind=kind, fmt=fmt, version=version, deal=deal, user=user, origin=origin,
                            template=template, note=note)
            document.save()
            return document
    except IntegrityError as exc:
        raise ApplicationError(code="conflict", message="Another version of this document was made at the same "
                                                        "moment; reload the page.") from exc


def document_generate(*, user: Any, record: models.Model, kind: str, fmt: str = Format.PDF, now: bool = False,
                      check: bool = True) -> Document:
    """Make the next version of a record's document from the template in use: queued for the worker, or at once
    (`now`) when the caller needs the file (a send). `check=False` is for services that already checked their own
    act (sending a quote makes its PDF whoever may send it)."""
    source = _source(record, kind)
    if check:
        document_generate_check(user=user, record=record, kind=kind)
    _check_kind_format(kind, fmt)
    deal = source.deal(record)
    with transaction.atomic():
        document = _new_version(record, kind=kind, fmt=fmt, deal=deal, user=user, origin=Document.Origin.GENERATED,
                                template=template_in_use(kind, fmt))
        if now:
            _render_into(document, record)
        verb = "document.generated" if now else "document.queued"
        event_record(actor=user, subject=record, verb=verb, thread=thread_for(deal),
                     actor_label=getattr(user, "label", ""),
                     message=f"{document} of {source.reference(record)} "
                             + ("generated" if now else "queued for generation"),
                     data={"document": document.pk, "sha256": document.sha256})
    return document


def documents_queue(*, user: Any, records: Sequence[models.Model], kind: str,
                    threads: dict[int, int] | None = None) -> int:
    """Queue the next PDF version of each record's document (a billing run's invoices), for the worker to make:
    one read of the versions so far, one INSERT of the documents and one of their timeline events, whatever the
    number of records. `threads` (deal id -> thread id) saves reading them again. Returns how many."""
    if not records:
        return 0
    source = SOURCES[Kind(kind)]
    template = template_in_use(kind, Format.PDF)
    subject_type = ContentType.objects.get_for_model(source.model)
    versions = dict(Document.objects.filter(subject_type=subject_type, subject_id__in=[r.pk for r in records],
                                            kind=kind, format=Format.PDF)
                    .values("subject_id").annotate(v=Max("version")).values_list("subject_id", "v"))
    deals = {record.pk: source.deal(record) for record in records}
    queued = Document.objects.bulk_create(
        [_row(record, kind=kind, fmt=Format.PDF, version=versions.get(record.pk, 0) + 1, deal=deals[record.pk],
              user=user, origin=Document.Origin.GENERATED, template=template) for record in records],
        batch_size=500)
    if threads is None:
        threads = threads_of(list({d.pk: d for d in deals.values()}.values()))
    events_record(actor=user, verb="document.queued", subject_model=source.model, rows=(
        (d.subject_id, threads.get(deals[d.subject_id].pk), f"{d} of {source.reference(r)} queued for generation")
        for d, r in zip(queued, records, strict=True)))
    return len(queued)


def _render_bytes(document: Document, record: models.Model) -> tuple[bytes, str]:
    source = SOURCES[Kind(document.kind)]
    facts = with_document(source.facts(record), kind=document.kind, version=document.version,
                          generated_at=_now_label())
    template = document.template or template_in_use(document.kind, document.format)
    if document.format == Format.DOCX:
        with template.file.open("rb") as handle:
            data = render_docx(handle.read(), facts)
    else:
        data = pdf_from_html(render_html(template.body, facts))
    return data, facts["document"]["content_sha256"]


def _store(document: Document, data: bytes) -> None:
    document.file.save(document.filename, ContentFile(data), save=False)
    document.sha256 = hashlib.sha256(data).hexdigest()
    document.size = len(data)
    document.state = Document.State.READY
    document.ready_at = timezone.now()
    document.error = ""


def _render_into(document: Document, record: models.Model) -> None:
    data, fingerprint = _render_bytes(document, record)
    _store(document, data)
    document.content_sha256 = fingerprint
    document.save()


def documents_render_queued(*, batch: int = SWEEP_BATCH) -> int:
    """The worker's sweep: generate up to `batch` queued documents, oldest first. Each is claimed in a short
    transaction (on PostgreSQL skipping rows another worker holds), rendered outside any transaction, and stored in
    another; a document whose worker died is claimed again after RENDER_LEASE. Returns how many it took."""
    taken: list[int] = []
    while len(taken) < batch:
        document = _claim(taken)
        if document is None:
            break
        taken.append(document.pk)
        _render_claimed(document)
    return len(taken)


def _claim(taken: list[int]) -> Document | None:
    """The oldest waiting document, now claimed; not one this sweep has tried already (a failed one waits for the
    next sweep)."""
    now = timezone.now()
    waiting = Q(state=Document.State.QUEUED) | Q(state=Document.State.RENDERING, claimed_at__lt=now - RENDER_LEASE)
    with transaction.atomic():
        document = (Document.objects.filter(waiting).exclude(pk__in=taken).order_by("created_at", "id")
                    .select_for_update(skip_locked=True).first())
        if document is None:
            return None
        Document.objects.filter(pk=document.pk).update(state=Document.State.RENDERING, claimed_at=now,
                                                       attempts=models.F("attempts") + 1)
        document.refresh_from_db()
    return document


def _render_claimed(document: Document) -> None:
    try:
        record = document.subject
        if record is None:
            raise LookupError(f"the record of {document} no longer exists")
        data, fingerprint = _render_bytes(document, record)
    except Exception as error:  # any failure is kept on the document; the page shows it
        message = f"{type(error).__name__}: {error}"[:2000]
        state = Document.State.FAILED if document.attempts >= MAX_ATTEMPTS else Document.State.QUEUED
        Document.objects.filter(pk=document.pk, state=Document.State.RENDERING).update(state=state, error=message)
        logger.warning("Document %s could not be generated (attempt %s): %s", document.pk, document.attempts, message)
        return
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.state != Document.State.RENDERING:  # another worker finished it after our lease ran out
            return
        _store(locked, data)
        locked.content_sha256 = fingerprint
        locked.save()


def document_upload_check(*, user: Any, record: models.Model, kind: str = Kind.SOW) -> None:
    from psops.sales.models import Sow

    if not isinstance(record, Sow):
        raise ApplicationError(code="no-upload", message="Only a SOW takes an uploaded version.")
    require(user, "sales.send_sow", record, message="Only the SOW's author or the deal's sales rep uploads a version.")
    if record.state == Sow.State.SIGNED:
        raise ApplicationError(code="sow-signed", message=f"{record} is signed; its documents never change.")


def document_upload(*, user: Any, record: models.Model, data: bytes, name: str, note: str = "") -> Document:
    """A version the customer returned (their redlines in Word, or a PDF), stored as the next version of the SOW's
    document in its format. Word or PDF only, checked by content as well as by name; at most MAX_UPLOAD_BYTES."""
    document_upload_check(user=user, record=record)
    name = (name or "").strip()
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if not data:
        raise ApplicationError(code="upload-empty", message="The file is empty.", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApplicationError(code="upload-too-large", field="file",
                               message=f"The file is {len(data) / (1024 * 1024):.1f} MB; at most "
                                       f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB is taken.")
    if suffix == Format.DOCX and is_docx(data):
        fmt = Format.DOCX
    elif suffix == Format.PDF and is_pdf(data):
        fmt = Format.PDF
    else:
        raise ApplicationError(code="upload-type", field="file",
                               message=f"'{name[:80]}' is not a Word (.docx) or PDF file; upload the SOW as one.")
    source = _source(record, Kind.SOW)
    deal = source.deal(record)
    with transaction.atomic():
        document = _new_version(record, kind=Kind.SOW, fmt=fmt, deal=deal, user=user, origin=Document.Origin.UPLOADED,
                                template=None, note=note or f"Uploaded: {name[:120]}")
        _store(document, data)
        document.save()
        event_record(actor=user, subject=record, verb="document.uploaded", thread=thread_for(deal),
                     message=f"{user} uploaded {document} of {source.reference(record)} ({name[:80]})",
                     data={"document": document.pk, "sha256": document.sha256})
    return document


# --- What the customer was shown ----------------------------------------------------------------------------------


def read_bytes(document: Document) -> bytes | None:
    """The stored file, or None when it is gone."""
    if not document.file:
        return None
    try:
        with document.file.open("rb") as handle:
            return handle.read()
    except OSError:
        return None


def document_intact(document: Document) -> bool:
    """Whether the stored file still hashes to the SHA-256 recorded when it was made."""
    data = read_bytes(document)
    return data is not None and hashlib.sha256(data).hexdigest() == document.sha256


def document_shown_check(*, record: models.Model, kind: str, sha256: str | None) -> Document | None:
    """The document a customer's answer is about: the current PDF of the record, which must be the one their page
    showed them (`sha256`, posted with the answer). None when the record has no document (made before documents
    existed); a refusal when the document changed since the page was shown."""
    document = current_document(record, kind)
    if document is None:
        return None
    if (sha256 or "") != document.sha256:
        raise ApplicationError(code="document-changed", message="The document changed since it was shown to you; "
                                                                "reload the page and read the current version.")
    return document


def signed_document_warning(document: Document | None, sha256: str) -> str:
    """For a page that shows a signed or accepted document: "" when the stored file is byte for byte the one
    signed, else what is wrong."""
    if document is None or not sha256:
        return ""
    if document.sha256 != sha256:
        return (f"The file stored as {document} is not the one signed (SHA-256 {sha256[:12]}…); treat the signed "
                "version as the contract.")
    if not document_intact(document):
        return (f"The stored file of {document} has been altered or lost since it was signed: it no longer matches "
                f"SHA-256 {sha256[:12]}….")
    return ""


def documents_for_sending(*, user: Any, record: models.Model, kind: str) -> list[Document]:
    """The documents a send act e-mails and the customer's page shows: made now, one per format of the kind, from
    the template in use. Called inside the send's own transaction, which has checked who may send."""
    return [document_generate(user=user, record=record, kind=kind, fmt=fmt, now=True, check=False)
            for fmt in SOURCES[Kind(kind)].formats]


def current_for_sending(*, user: Any, record: models.Model, kind: str) -> list[Document]:
    """For sending again: the current version of each format (made now where there is none)."""
    found = [current_document(record, kind, fmt) for fmt in SOURCES[Kind(kind)].formats]
    if all(found):
        return [d for d in found if d is not None]
    return documents_for_sending(user=user, record=record, kind=kind)


def attachments(documents: list[Document]) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, MIME type) of each document that can be read, for an e-mail."""
    found = [(d.filename, read_bytes(d), d.content_type) for d in documents]
    return [(name, data, mime) for name, data, mime in found if data is not None]


def document_regenerate(*, user: Any, record: models.Model, kind: str) -> list[Document]:
    """A person asks for a new version of a record's document (every format its kind has), made by the worker."""
    document_generate_check(user=user, record=record, kind=kind)
    with transaction.atomic():
        return [document_generate(user=user, record=record, kind=kind, fmt=fmt, check=False)
                for fmt in SOURCES[Kind(kind)].formats]


# --- The company block --------------------------------------------------------------------------------------------

COMPANY_FIELDS = ("name", "address", "email", "phone", "website", "tax_id", "payment_instructions")


def company_profile_save(*, user: Any, values: dict) -> Any:
    """The administrator sets the company block every document prints (and its logo)."""
    from .models import CompanyProfile

    require(user, "documents.edit_template", message="Only an administrator sets the company block.")
    with transaction.atomic():
        profile = CompanyProfile.objects.select_for_update().first() or CompanyProfile()
        for name in COMPANY_FIELDS:
            if name in values:
                setattr(profile, name, values[name])
        logo = values.get("logo")
        if logo is False:  # cleared
            profile.logo = ""
        elif logo is not None and hasattr(logo, "read"):
            profile.logo.save(getattr(logo, "name", "logo"), ContentFile(logo.read()), save=False)
        profile.save()
        event_record(actor=user, subject=profile, verb="company.saved", message=f"{user} changed the company block")
    return profile
