"""The administrator's view of the chain's promises: every invariant, and anything that violates one.

There should be nothing to show. The page exists so that a promise broken by a bug or by a hand edit is seen, not
silently believed (see psops.workflow.invariants)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from psops.accounts.rules import is_administrator
from psops.workflow import invariants

SHOWN = 200  # violations listed per invariant at most; the count is always exact


@login_required
def integrity(request):
    if not is_administrator(request.user):
        raise PermissionDenied("The integrity check is the administrator's page.")
    rows = []
    for name, check in invariants.INVARIANTS.items():
        found = list(check())
        rows.append({"name": name, "doc": (check.__doc__ or "").strip(), "count": len(found), "shown": found[:SHOWN]})
    return render(request, "web/integrity.html", {"rows": rows, "total": sum(r["count"] for r in rows)})
