"""The record pages: how to load each kind of record, which deal it belongs to, and how its page is laid out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models


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
