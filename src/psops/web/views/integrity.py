"""The administrator's view of the chain's promises: every invariant, and anything that violates one.

There should be nothing to show. The page exists so that a promise broken by a bug or by a hand edit is seen, not
silently believed (see psops.workflow.invariants)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from psops.core.errors import ApplicationError
from psops.workflow import invariants


@login_required
def integrity(request):
    try:
        invariants.integrity_check(user=request.user)
    except ApplicationError as refusal:
        raise PermissionDenied(refusal.message) from refusal
    rows = invariants.integrity_report()
    return render(request, "web/integrity.html", {"rows": rows, "total": sum(r["count"] for r in rows)})
