"""Tags of the list pages: addresses that keep the filters, and sortable column headings."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _query(request, **changes) -> str:
    params = request.GET.copy()
    for name, value in changes.items():
        if value in (None, ""):
            params.pop(name, None)
        else:
            params[name] = str(value)
    return params.urlencode()


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """This page's query string with some parameters changed (None or "" drops one), e.g. {% query page=2 %}."""
    return "?" + _query(context["request"], **changes)


@register.simple_tag(takes_context=True)
def sort_th(context, column: str, label: str, numeric: bool = False) -> SafeString:
    """A column heading that sorts by `column`: ascending first, then descending; it says which way it sorts now."""
    sort = context["sort"]
    active = sort.column == column
    key = f"-{column}" if active and not sort.descending else column
    href = "?" + _query(context["request"], sort=key, page=None)
    aria = (' aria-sort="descending"' if sort.descending else ' aria-sort="ascending"') if active else ""
    arrow = (" ▼" if sort.descending else " ▲") if active else ""
    css = ' class="num"' if numeric else ""
    return format_html('<th scope="col"{}{}><a href="{}">{}<span aria-hidden="true">{}</span></a></th>',
                       mark_safe(css), mark_safe(aria), href, label, arrow)  # noqa: S308 - constant strings
