"""Helpers every page uses: calling a service and turning its refusal into a message, paging, and the page for
someone who holds no role yet."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from psops.accounts.roles import roles_of
from psops.core.errors import ApplicationError


def attempt(request: HttpRequest, act: Callable[[], Any], *, success: str | Callable[[Any], str],
            form: Any = None) -> Any | None:
    """Run a service call; on refusal show its reason (beside the field it names when a form is given) and return
    None. The service changed nothing in that case. `success` is the message shown otherwise (or makes it from the
    service's result)."""
    try:
        result = act()
    except ApplicationError as refusal:
        request.psops_refusal = refusal  # type: ignore[attr-defined]  # for a page that answers with its status
        if refusal.code == "forbidden":
            raise PermissionDenied(refusal.message) from refusal
        if form is not None and refusal.field and refusal.field in form.fields:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.error(request, refusal.message)
            if form is not None:
                form.add_error(None, refusal.message)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return result if result is not None else True


def paginate(request: HttpRequest, rows, per_page: int = 25):
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def refusal_status(request: HttpRequest, default: int = 400) -> int:
    """The status for a page re-shown after `attempt` was refused: 409 when the refusal says the act was already
    done or raced another (nothing new was stored), else `default`."""
    refusal = getattr(request, "psops_refusal", None)
    return 409 if refusal is not None and refusal.http_status == 409 else default


def role_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Someone whose account holds no role yet sees no business at all: a page that says so and whom to ask
    (status 403) instead of the page asked for. Put it under `login_required`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_superuser or roles_of(user)):
            return render(request, "web/no_role.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
