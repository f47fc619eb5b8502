"""The record pages: how to load each kind of record, which deal it belongs to, and how its page is laid out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404


@dataclass(frozen=True)
class Kind:
    model_name: str  # also the URL name: web:<model_name>
    path: str  # URL prefix, e.g. "opportunities"
    load: Callable[[int], models.Model]  # raises DoesNotExist
    deal_of: Callable[[Any], Any]  # the parent opportunity, whose visibility rules the record's
    template: str  # the facts partial
    title: Callable[[Any], str] = str


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    KINDS[kind.model_name] = kind


def visible(user: Any, model_name: str, pk: int) -> tuple[Kind, Any, Any]:
    """(kind, record, its deal) for a record `user` may see; Http404 otherwise. Guessing an id shows nothing: a
    record outside what this user may see is simply not found (the record pages and the API ask this alike)."""
    kind = KINDS.get(model_name)
    if kind is None:
        raise Http404
    try:
        record = kind.load(pk)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc
    deal = kind.deal_of(record)
    if not user.has_perm("crm.view_deal", deal):
        raise Http404
    return kind, record, deal
