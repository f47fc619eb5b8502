from decimal import Decimal

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from psops.accounts import roles
from psops.core.money import fmt

register = template.Library()


@register.simple_tag
def record_url(obj) -> str:
    """The page of a record (`web:<model name>`), or "" where psops has no page for it."""
    if obj is None or getattr(obj, "pk", None) is None:
        return ""
    try:
        return reverse(f"web:{obj._meta.model_name}", args=[obj.pk])
    except NoReverseMatch:
        # A part of a record (a ROM's version) links to the page of the record that shows it.
        return record_url(obj.shown_on) if hasattr(type(obj), "shown_on") else ""


@register.simple_tag
def record_link(obj, label=None):
    url = record_url(obj)
    text = label if label is not None else str(obj)
    return format_html('<a href="{}">{}</a>', url, text) if url else text


@register.filter
def money(amount: Decimal | str | None, currency: str = "USD") -> str:
    """An amount with its currency: "USD 65,000.00". Takes a Decimal, or the string a JSON record keeps it as."""
    if isinstance(amount, str):
        amount = Decimal(amount) if amount.strip() else None
    return fmt(amount, currency)


@register.filter
def role_names(codes) -> str:
    """Role codes as people read them: "PS Manager or Dir. CS"."""
    return " or ".join(roles.ROLES.get(code, code) for code in codes or [])


@register.filter
def state_label(obj) -> str:
    for name in ("get_state_display", "get_stage_display", "get_status_display"):
        if hasattr(obj, name):
            return getattr(obj, name)()
    return ""


@register.filter
def project_next(project) -> str:
    """The next act on a project in the process's words (psops.workflow.selectors.project_next_step)."""
    from psops.workflow.selectors import project_next_step

    return project_next_step(project)


def _calendar(context):
    """The working calendar, read once per request (the holidays are one query)."""
    from psops.core.business_days import Calendar

    holder = context.get("request") or context
    calendar = getattr(holder, "_psops_calendar", None)
    if calendar is None:
        calendar = Calendar.current()
        holder._psops_calendar = calendar
    return calendar


@register.simple_tag(takes_context=True)
def deadline(context, moment, business: bool = False, exclusive: bool = False):
    """A date people wait on, with how far off it is: "2026-12-07 (in 4 business days)", "(today)", "(2 days
    ago)". `moment` is a date or an aware datetime (read in the business time zone); `business` counts business days
    (the rule's unit for passive acceptance), else calendar days; `exclusive` for a moment that ends something (a link
    that stops working at 00:00 is last usable the day before, which is the date shown: `last_day`)."""
    import datetime as dt

    from django.utils import timezone

    from psops.core.business_days import last_day, local_date

    if moment is None:
        return "—"
    if isinstance(moment, dt.datetime):
        day = last_day(moment) if exclusive else local_date(moment)
    else:
        day = moment - dt.timedelta(days=1) if exclusive else moment
    today = timezone.localdate()
    if business:
        calendar = _calendar(context)
        far = (calendar.business_days_between(today, day) if day >= today
               else -calendar.business_days_between(day, today))
        unit = "business day"
    else:
        far, unit = (day - today).days, "day"
    if far == 0:
        when = "today" if day == today else f"no {unit}s left"
    elif far > 0:
        when = f"in {far} {unit}{'s' * (far != 1)}"
    else:
        when = f"{-far} {unit}{'s' * (far != -1)} ago"
    full = timezone.localtime(moment).isoformat(timespec="minutes") if isinstance(moment, dt.datetime) else day
    return format_html('<time datetime="{}" title="{}">{}</time> <span class="muted">({})</span>', day.isoformat(),
                       full, day.isoformat(), when)
