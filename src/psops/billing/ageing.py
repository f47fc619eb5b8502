"""Accounts-receivable ageing buckets."""

from __future__ import annotations

import datetime as dt

BUCKETS = ["current", "1-30", "31-60", "61-90", "over-90"]


def bucket(due_date: dt.date | None, today: dt.date) -> str:
    """'current' until the due date has passed, then by days past due."""
    if due_date is None or today <= due_date:
        return "current"
    late = (today - due_date).days
    if late <= 30:
        return "1-30"
    if late <= 60:
        return "31-60"
    if late <= 90:
        return "61-90"
    return "over-90"
