"""Helpers every page uses: calling a service and turning its refusal into a message, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest

from psops.core.errors import ApplicationError


def attempt(request: HttpRequest, act: Callable[[], Any], *, success: str, form: Any = None) -> Any | None:
    """Run a service call; on refusal show its reason (beside the field it names when a form is given) and return
    None. The service changed nothing in that case."""
    try:
        result = act()
    except ApplicationError as refusal:
        if refusal.code == "forbidden":
            raise PermissionDenied(refusal.message) from refusal
        if form is not None and refusal.field and refusal.field in form.fields:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.error(request, refusal.message)
            if form is not None:
                form.add_error(None, refusal.message)
        return None
    messages.success(request, success)
    return result if result is not None else True


def paginate(request: HttpRequest, rows, per_page: int = 25):
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
