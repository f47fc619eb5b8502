"""Every act a page offers, declared once: when it is in view (the record's state), who may and whether it is
allowed now (the domain's own check for that act, `check`: the very function the service calls before acting),
what it asks (a form) and which service it calls.

The page offers an act when its check passes. When the act is in view and the user holds a role for it but the
check refuses (the SOW needs the Director of PS, nobody reviews their own work), the page shows the act disabled
with the refusal's own message, so an offered button never ends in a bare 403 and a refused one says why.

Every act has a check. A few acts work on a record the page finds first (the request waiting for the customer, the
open collection case); their check cannot run without it, so they also name the role's rules permission (`perm`),
asked first, and a forged post from somebody without the role is refused as forbidden whatever the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms

from psops.core.errors import ApplicationError


@dataclass(frozen=True)
class Act:
    code: str
    label: str
    run: Callable[[Any, Any, dict], Any]  # (user, record, cleaned form data) -> result
    success: str | Callable[[Any], str]  # the message shown when done, or made from the service's result
    perm: str | None = None  # the role's rules permission, asked with the record as the object before `when`
    when: Callable[[Any], bool] = lambda record: True
    form: type[forms.BaseForm] | None = None
    style: str = "primary"
    form_kwargs: Callable[[Any, Any], dict] = field(default=lambda user, record: {})
    # Acts that create a record (a quote, a SOW, a PS opportunity) take the user to it; others stay on the page.
    opens_result: bool = False
    # The domain's check for this act: (user, record) -> None, or raises the coded refusal. One rule in one place.
    check: Callable[[Any, Any], Any] = field(kw_only=True)

    def refusal(self, user: Any, record: Any) -> ApplicationError | None:
        """Why `user` may not do this act on `record` now (None: they may)."""
        if self.perm is not None and not user.has_perm(self.perm, record):
            return ApplicationError(code="forbidden", message="That action is not available to you on this record.")
        if not self.when(record):
            return ApplicationError(code="not-now", message="That action is not available on this record now.")
        try:
            self.check(user, record)
        except ApplicationError as refused:
            return refused
        return None

    def refusal_of_post(self, user: Any, record: Any) -> ApplicationError | None:
        """As `refusal`, for a posted act: when the act is not in view now, its own check still tells who may do
        it, so somebody who never may is refused as such (forbidden) rather than told "not now"."""
        refused = self.refusal(user, record)
        if refused is not None and refused.code == "not-now":
            try:
                self.check(user, record)
            except ApplicationError as deeper:
                if deeper.http_status == 403:
                    return deeper
        return refused

    def offered_to(self, user: Any, record: Any) -> bool:
        return self.refusal(user, record) is None

    def why_not(self, user: Any, record: Any) -> str:
        """For the page: the reason to show beside a disabled act, or "" when the act is not for this user at all
        (not in view now, or a role they do not hold)."""
        refused = self.refusal(user, record)
        if refused is None or refused.code in ("not-now", "forbidden"):
            return ""
        return refused.message

    def make_form(self, user: Any, record: Any, data: Any = None, files: Any = None) -> forms.BaseForm | None:
        if self.form is None:
            return None
        return self.form(data, files, prefix=self.code, **self.form_kwargs(user, record))


REGISTRY: dict[str, list[Act]] = {}


def register(model_name: str, *acts: Act) -> None:
    REGISTRY.setdefault(model_name, []).extend(acts)


def acts_for(model_name: str) -> list[Act]:
    return REGISTRY.get(model_name, [])


def find(model_name: str, code: str) -> Act | None:
    return next((a for a in acts_for(model_name) if a.code == code), None)
