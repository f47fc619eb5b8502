"""Helpers every page uses: calling a service and turning its refusal into a message, paging, and the page for
someone who holds no role yet."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property

from psops.accounts.roles import roles_of
from psops.core.counting import capped_count, count_label
from psops.core.errors import ApplicationError


def attempt(request: HttpRequest, act: Callable[[], Any], *, success: str | Callable[[Any], str],
            form: Any = None, forbidden_in_page: bool = False) -> Any | None:
    """Run a service call; on refusal show its reason (beside the field it names when a form is given) and return
    None. The service changed nothing in that case. `success` is the message shown otherwise (or makes it from the
    service's result). A forbidden act raises PermissionDenied (the refusal page, which says why), unless
    `forbidden_in_page`: a record page shows that reason in the page it re-renders, with the status 403."""
    try:
        result = act()
    except ApplicationError as refusal:
        request.psops_refusal = refusal  # type: ignore[attr-defined]  # for a page that answers with its status
        if refusal.code == "forbidden" and not forbidden_in_page:
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


def allows(check: Callable[..., None], **kwargs: Any) -> bool:
    """Whether a service's check lets this act happen: how a page decides to offer it (the service asks the same)."""
    try:
        check(**kwargs)
    except ApplicationError:
        return False
    return True


class CappedPaginator(Paginator):
    """A paginator that counts at most `cap` rows: a list of 200,000 deals costs what one of 10,000 costs. Past the
    cap the count reads "10,000+" (`count_label`), the pages stop at the cap and a filter narrows the rest; a page
    number beyond them shows the last page, as any number past the end does."""

    def __init__(self, object_list, per_page: int, cap: int | None = None) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap  # None: psops.core.counting.COUNT_CAP
        self.more = False  # rows exist beyond the cap

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return len(rows)
        count, self.more = capped_count(rows, self.cap)
        return count

    def page(self, number):
        """The page's rows in two reads: the keys of its rows in the list's order (an index scan, however deep the
        page), then those rows with everything they show. Read in one, the database joined and computed every row
        it skipped to reach a deep page (110 ms at page 400 of the deals)."""
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        keys = list(rows.values_list("pk", flat=True)[bottom:top])
        found = {row.pk: row for row in rows.filter(pk__in=keys).order_by()}
        return self._get_page([found[key] for key in keys if key in found], number, self)

    @property
    def count_label(self) -> str:
        return count_label(self.count, self.more)

    @property
    def pages_label(self) -> str:
        return count_label(self.num_pages, self.more)


def paginate(request: HttpRequest, rows, per_page: int = 25):
    return CappedPaginator(rows, per_page).get_page(request.GET.get("page"))


def refusal_status(request: HttpRequest, default: int = 400) -> int:
    """The status for a page re-shown after `attempt` was refused: 409 when the refusal says the act was already
    done or raced another (nothing new was stored), else `default`."""
    refusal = getattr(request, "psops_refusal", None)
    return refusal.http_status if refusal is not None and refusal.http_status in (403, 409) else default


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
