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
def money(amount: Decimal | None, currency: str = "USD") -> str:
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
