"""Tiny server-rendered SVG charts: a bar chart and a horizontal bar chart, as markup strings.

Server-rendered so that the same chart works in a page, an e-mail and a PDF, with no script and no inline style
(the content security policy forbids both): every colour and size is an SVG presentation attribute. Each chart is
an accessible image: `role="img"`, an `aria-label` and a `<title>`, a `<desc>` that reads the figures out, and a
`<title>` on every bar (the tooltip). Every piece of text is escaped here, which is why the result is safe to put
in a template as it is.

Values are non-negative amounts, counts or durations; a negative value is drawn as 0 (its label still says it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

Number = int | float | Decimal

INK = "#1d2330"
MUTED = "#5b6475"
GRID = "#d9dee7"
PALETTE = ("#3b5bdb", "#f08c00", "#2b8a3e", "#c92a2a", "#7048e8")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif"
EMPTY_TEXT = "No data yet"


@dataclass(frozen=True)
class Series:
    """One set of values, one per label, drawn in one colour."""

    name: str
    values: Sequence[Number]
    fill: str = ""


def compact(value: Number) -> str:
    """A short axis label: 950, 1.2k, 45k, 1.5M."""
    number = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            scaled = number / size
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{number:.1f}".rstrip("0").rstrip(".") if number % 1 else f"{number:.0f}"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def _as_list(series: Series | Sequence[Series]) -> list[Series]:
    items = [series] if isinstance(series, Series) else list(series)
    return [s if s.fill else Series(s.name, s.values, PALETTE[i % len(PALETTE)]) for i, s in enumerate(items)]


def _value(series: Series, index: int) -> float:
    return float(series.values[index]) if index < len(series.values) else 0.0


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> list[str]:
    ident = _e(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}" aria-describedby="{ident}-desc" '
        f'font-family="{_e(FONT)}" font-size="12">',
        f'<title id="{ident}-title">{_e(title)}</title>',
        f'<desc id="{ident}-desc">{_e(description)}</desc>',
    ]


def _describe(labels: Sequence[str], series: list[Series], value_format: Callable[[Number], str]) -> str:
    parts = []
    for i, label in enumerate(labels):
        values = [f"{s.name} {value_format(s.values[i])}" if len(series) > 1 else value_format(s.values[i])
                  for s in series if i < len(s.values)]
        parts.append(f"{label}: {', '.join(values)}")
    return "; ".join(parts) + "."


def _empty(chart_id: str, title: str, width: int, height: int, text: str) -> SafeString:
    parts = _open(chart_id, title, f"{title}: {text}.", width, height)
    parts.append(f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="8" fill="none" '
                 f'stroke="{GRID}" stroke-dasharray="4 4"/>')
    parts.append(f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" dominant-baseline="middle" '
                 f'fill="{MUTED}" font-size="14">{_e(text)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _legend(series: list[Series], x: float, y: float) -> list[str]:
    parts = []
    for s in series:
        parts.append(f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" rx="2" fill="{_e(s.fill)}"/>')
        parts.append(f'<text x="{_n(x + 14)}" y="{_n(y)}" fill="{INK}">{_e(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return parts


def _has_data(labels: Sequence[str], series: list[Series]) -> bool:
    return bool(labels) and any(len(s.values) for s in series)


def bar_chart(*, chart_id: str, title: str, labels: Sequence[str], series: Series | Sequence[Series],
              value_format: Callable[[Number], str] = compact, axis_format: Callable[[Number], str] = compact,
              description: str = "", width: int = 480, height: int = 240, counts: bool = False,
              empty_text: str = EMPTY_TEXT) -> SafeString:
    """Vertical bars, one group per label (one bar per series), with a value axis and gridlines. `counts` keeps the
    axis on whole numbers."""
    items = _as_list(series)
    if not _has_data(labels, items):
        return _empty(chart_id, title, width, height, empty_text)
    legend = len(items) > 1
    left, right, top, bottom = 56, 12, 28 if legend else 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(max(_value(s, i), 0.0) for s in items for i in range(len(labels)))
    top_value = 4.0 * max(math.ceil(highest / 4), 1) if counts else _nice_max(highest)
    parts = _open(chart_id, title, description or _describe(labels, items, value_format), width, height)
    for k in range(5):  # gridlines and the value axis
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{MUTED}">'
                     f"{_e(axis_format(value))}</text>")
    group = plot_w / len(labels)
    bar = group * 0.72 / len(items)
    label_size = 12 if group >= 60 else 11 if group >= 40 else 10
    fits = max(int(group / (label_size * 0.55)), 3)  # characters that fit under a bar, roughly
    for i, label in enumerate(labels):
        x0 = left + group * i + group * 0.14
        for j, s in enumerate(items):
            raw = s.values[i] if i < len(s.values) else 0
            h = plot_h * max(_value(s, i), 0.0) / top_value
            name = f"{label} · {s.name}" if len(items) > 1 else str(label)
            parts.append(f'<rect x="{_n(x0 + bar * j)}" y="{_n(top + plot_h - h)}" width="{_n(max(bar - 2, 1))}" '
                         f'height="{_n(h)}" rx="2" fill="{_e(s.fill)}"><title>{_e(name)}: '
                         f"{_e(value_format(raw))}</title></rect>")
        parts.append(f'<text x="{_n(left + group * (i + 0.5))}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'fill="{INK}" font-size="{label_size}">{_e(_truncate(str(label), fits))}'
                     f"<title>{_e(label)}</title></text>")
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    if legend:
        parts.extend(_legend(items, left, 14))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def hbar_chart(*, chart_id: str, title: str, labels: Sequence[str], series: Series | Sequence[Series],
               value_format: Callable[[Number], str] = compact, description: str = "", width: int = 480,
               label_width: int = 150, value_width: int = 110, bar_height: int = 18,
               empty_text: str = EMPTY_TEXT) -> SafeString:
    """Horizontal bars, one row per label (one bar per series), each with its value written at its end."""
    items = _as_list(series)
    if not _has_data(labels, items):
        return _empty(chart_id, title, width, 120, empty_text)
    legend = len(items) > 1
    top = 30 if legend else 8
    row = bar_height * len(items) + 12
    height = top + row * len(labels) + 4
    plot_w = width - label_width - value_width
    top_value = max(max(_value(s, i), 0.0) for s in items for i in range(len(labels))) or 1.0
    parts = _open(chart_id, title, description or _describe(labels, items, value_format), width, height)
    for i, label in enumerate(labels):
        y0 = top + row * i + 6
        parts.append(f'<text x="{label_width - 8}" y="{_n(y0 + bar_height * len(items) / 2 + 4)}" '
                     f'text-anchor="end" fill="{INK}">{_e(_truncate(str(label), max(label_width // 7, 6)))}'
                     f"<title>{_e(label)}</title></text>")
        for j, s in enumerate(items):
            raw = s.values[i] if i < len(s.values) else 0
            w = plot_w * max(_value(s, i), 0.0) / top_value
            y = y0 + bar_height * j
            name = f"{label} · {s.name}" if len(items) > 1 else str(label)
            parts.append(f'<rect x="{label_width}" y="{_n(y)}" width="{_n(w)}" height="{bar_height - 2}" rx="2" '
                         f'fill="{_e(s.fill)}"><title>{_e(name)}: {_e(value_format(raw))}</title></rect>')
            parts.append(f'<text x="{_n(label_width + w + 6)}" y="{_n(y + bar_height / 2 + 3)}" fill="{MUTED}" '
                         f'font-size="11">{_e(value_format(raw))}</text>')
    parts.append(f'<line x1="{label_width}" x2="{label_width}" y1="{top}" y2="{height - 4}" stroke="{MUTED}"/>')
    if legend:
        parts.extend(_legend(items, label_width, 16))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
