"""Every act a page offers, declared once: who may (a rules permission on the record), when (a state check that
mirrors the record's state machine), what it asks (a form) and which service it calls.

The page shows a button exactly when the user holds the permission and the record is in a state for it; the
service still checks everything itself, so a stale page can only ever get a clear refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms


@dataclass(frozen=True)
class Act:
    code: str
    label: str
    run: Callable[[Any, Any, dict], Any]  # (user, record, cleaned form data) -> result
    success: str
    perm: str | None = None  # checked with the record as the object
    when: Callable[[Any], bool] = lambda record: True
    form: type[forms.BaseForm] | None = None
    style: str = "primary"
    # Extra permission logic that is not a rules permission (e.g. "an approver this request waits for").
    allowed: Callable[[Any, Any], bool] | None = None
    form_kwargs: Callable[[Any, Any], dict] = field(default=lambda user, record: {})
    # Acts that create a record (a quote, a SOW, a PS opportunity) take the user to it; others stay on the page.
    opens_result: bool = False

    def offered_to(self, user: Any, record: Any) -> bool:
        if not self.when(record):
            return False
        if self.perm is not None and not user.has_perm(self.perm, record):
            return False
        return self.allowed is None or self.allowed(user, record)

    def make_form(self, user: Any, record: Any, data: Any = None) -> forms.BaseForm | None:
        if self.form is None:
            return None
        return self.form(data, prefix=self.code, **self.form_kwargs(user, record))


REGISTRY: dict[str, list[Act]] = {}


def register(model_name: str, *acts: Act) -> None:
    REGISTRY.setdefault(model_name, []).extend(acts)


def acts_for(model_name: str) -> list[Act]:
    return REGISTRY.get(model_name, [])


def find(model_name: str, code: str) -> Act | None:
    return next((a for a in acts_for(model_name) if a.code == code), None)
