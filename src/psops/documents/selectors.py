"""What a record page shows of its documents: a bounded list, with what the customer signed checked against the
stored file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q

from .models import Document, Kind
from .services import signed_document_warning
from .sources import sources_for

# A record page lists this many documents, newest first (regenerating keeps every version; the export has them all).
ON_PAGE = 12


@dataclass(frozen=True)
class Row:
    document: Document
    signed: str  # "", or who signed or accepted this very file
    warning: str  # "", or why the stored file is not the one signed


def _signed(record: models.Model) -> dict[int, tuple[str, str]]:
    """Document id -> (who signed or accepted it, the SHA-256 they were shown), for the records that carry one."""
    from psops.delivery.models import AcceptanceRequest, Project
    from psops.sales.models import Quote, Sow

    if isinstance(record, Quote) and record.accepted_document_id:
        return {record.accepted_document_id: ("Accepted by the customer", record.accepted_sha256)}
    if isinstance(record, Sow):
        signature = getattr(record, "signature", None) if record.state == Sow.State.SIGNED else None
        if signature is not None and signature.document_id:
            return {signature.document_id: (f"Signed by {signature.signed_name}", signature.document_sha256)}
    if isinstance(record, Project):
        answered = (record.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF, document__isnull=False)
                    .exclude(document_sha256="").values_list("document_id", "signed_name", "document_sha256"))
        return {doc: (f"Signed by {name}" if name else "Accepted by the customer", sha)
                for doc, name, sha in answered}
    return {}


def documents_on_page(record: models.Model) -> list[Row] | None:
    """The record's documents (an invoice's with its credit notes'), newest first, at most ON_PAGE; None for a
    record that has no documents."""
    sources = sources_for(record)
    if not sources:
        return None
    from psops.billing.models import CreditNote, Invoice

    # Each kind of document is of one kind of record, so the kind names the record type (no content type to read).
    where = Q(kind__in=[s.kind for s in sources], subject_id=record.pk)
    if isinstance(record, Invoice):
        where |= Q(kind=Kind.CREDIT_NOTE, subject_id__in=CreditNote.objects.filter(invoice=record).values("pk"))
    found = list(Document.objects.filter(where).select_related("template").order_by("-created_at", "-id")[:ON_PAGE])
    signed = _signed(record)
    rows = []
    for document in found:
        who, sha = signed.get(document.pk, ("", ""))
        rows.append(Row(document, who, signed_document_warning(document, sha) if who else ""))
    return rows


def downloadable(*, user: Any, pk: int) -> Document | None:
    """The ready document `pk` if `user` sees its deal, else None (not found, not ready and not theirs are one
    answer, so ids cannot be probed). The download page and the API ask this one."""
    document = Document.objects.select_related("opportunity").filter(pk=pk, state=Document.State.READY).first()
    if document is None or not user.has_perm("crm.view_deal", document.opportunity):
        return None
    return document
