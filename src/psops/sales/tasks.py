from __future__ import annotations

import datetime as dt

from django.db import transaction
from django_tasks import task

from psops.core.business_days import start_of_day


@task()
def quote_expiry_task(quote_id: int) -> bool:
    from .services import quote_expire

    return quote_expire(quote_id=quote_id)


def schedule_quote_expiry(quote) -> None:
    at = start_of_day(quote.valid_until + dt.timedelta(days=1))
    pk = quote.pk
    transaction.on_commit(lambda: quote_expiry_task.using(run_after=at).enqueue(pk))
