"""Counting at a firm's size: a list or a queue counts its rows up to a cap, and says "10,000+" past it. Counting a
queue of 100,000 overdue invoices exactly costs a scan of all of them on every home page; up to the cap it costs
reading 10,001 keys from an index, and nobody works through the difference without a filter anyway."""

from __future__ import annotations

from django.db.models import QuerySet

COUNT_CAP = 10_000  # rows counted exactly; past that, "10,000+"


def capped_count(rows: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """How many `rows` there are, up to `cap` (default COUNT_CAP), and whether there are more. Only the keys are
    read, unordered: no annotation or sort is paid for."""
    cap = COUNT_CAP if cap is None else cap
    counted = rows.order_by().values("pk")[:cap + 1].count()
    return min(counted, cap), counted > cap


def count_label(count: int, more: bool) -> str:
    """"1,234", or "10,000+" when rows were left uncounted."""
    return f"{count:,}+" if more else f"{count:,}"
