"""Downloading a document: whoever sees its deal may; anybody else is told it does not exist."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.views.decorators.http import require_GET

from psops.documents.selectors import downloadable
from psops.documents.services import read_bytes

from ..downloads import document_response


@require_GET
@login_required
def document_download(request, pk: int):
    document = downloadable(user=request.user, pk=pk)
    if document is None:
        raise Http404("There is no such document.")
    data = read_bytes(document)
    if data is None:
        raise Http404(f"The file of {document} is missing from storage; make a new version from its record.")
    return document_response(document, data)
