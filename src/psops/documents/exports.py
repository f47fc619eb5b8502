"""Writing the documents of engagements to a folder, with a manifest an auditor can check file by file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Exists, OuterRef
from django.utils import timezone

from psops.core.errors import ApplicationError
from psops.crm.models import Opportunity

from .models import Document
from .services import read_bytes

BATCH = 500


@dataclass
class ExportReport:
    folder: Path
    written: int = 0
    engagements: int = 0
    altered: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"Wrote {self.written} document{'s' * (self.written != 1)} of {self.engagements} "
                f"engagement{'s' * (self.engagements != 1)} and manifest.json to {self.folder}.")


def _current(engagement: int | None):
    """The current (newest ready) version of the document of each subject, kind and format, in engagement order,
    read in chunks: one query however many there are."""
    ready = Document.objects.filter(state=Document.State.READY)
    newer = ready.filter(subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id"),
                         kind=OuterRef("kind"), format=OuterRef("format"), version__gt=OuterRef("version"))
    if engagement is not None:
        ready = ready.filter(opportunity_id=engagement)
    return (ready.filter(~Exists(newer)).select_related("opportunity__account")
            .order_by("opportunity_id", "kind", "id").iterator(chunk_size=BATCH))


def documents_export(*, out: str, engagement: int | None = None) -> ExportReport:
    """Write the current version of every document of one engagement (a deal's number) or all of them under `out`,
    one folder per engagement, and `manifest.json` listing each file with its engagement, kind, format, version and
    the SHA-256 of the bytes written. A stored file whose bytes no longer match the SHA-256 recorded when it was
    made is written all the same and reported in `altered`."""
    if engagement is not None and not Opportunity.objects.filter(pk=engagement).exists():
        raise ApplicationError(code="not-found", message=f"There is no engagement (deal) number {engagement}.")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ApplicationError(code="not-a-folder", message=f"{out} exists and is not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApplicationError(code="cannot-write", message=f"Cannot create {out}: {exc.strerror}.") from exc
    if not os.access(folder, os.W_OK):
        raise ApplicationError(code="cannot-write", message=f"Cannot write to {out}.")
    report = ExportReport(folder=folder)
    entries = []
    deals: set[int] = set()
    for document in _current(engagement):
        data = read_bytes(document)
        deal = document.opportunity
        if data is None:
            report.altered.append(f"{document} of engagement {deal.pk}: the stored file is missing.")
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha != document.sha256:
            report.altered.append(f"{document} of engagement {deal.pk}: the stored file does not match its "
                                  f"recorded SHA-256 {document.sha256}.")
        relative = Path(f"engagement-{deal.pk}") / document.filename
        (folder / relative.parent).mkdir(exist_ok=True)
        (folder / relative).write_bytes(data)
        deals.add(deal.pk)
        report.written += 1
        entries.append({"engagement": deal.pk, "engagement_name": str(deal), "kind": document.kind,
                        "format": document.format, "version": document.version, "file": str(relative),
                        "sha256": sha, "recorded_sha256": document.sha256, "size": len(data),
                        "document": document.pk, "made_at": document.created_at.isoformat()})
    report.engagements = len(deals)
    manifest = {"exported_at": timezone.now().isoformat(), "documents": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
