"""Sending a stored document to a browser: the PDF shown inline, the Word file as a download, never sniffed."""

from __future__ import annotations

from django.http import HttpResponse

from psops.documents.models import Document, Format


def document_response(document: Document, data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type=document.content_type)
    disposition = "inline" if document.format == Format.PDF else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{document.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Length"] = str(len(data))
    # The file named by its hash: a client or proxy can check what it got.
    response["ETag"] = f'"{document.sha256}"'
    return response
