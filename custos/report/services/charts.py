"""The report's charts as inline SVG: drawn here, on the server, so that the page needs no script and
WeasyPrint puts them in the PDF as vectors with the embedded font (an ECharts canvas would not print).
"""

from __future__ import annotations

import math
from html import escape

W, H = 680, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 34, 44
COLORS = ("#5470c6", "#fac858", "#ee6666", "#91cc75", "#73c0de")
FONT = "'Noto Sans CJK SC', 'Noto Sans', sans-serif"


def _nice(top: float) -> tuple[float, int]:
    """An axis maximum and the number of steps (4 or 5) with round step values."""
    if top <= 0:
        return 1.0, 4
    raw = top / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    steps = math.ceil(top / step)
    return step * steps, steps


def _frame(parts: list[str], title: str, top: float, steps: int, fmt) -> None:
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="{FONT}" font-size="11">'
    )
    plot_h = H - TOP - BOTTOM
    for i in range(steps + 1):
        y = TOP + plot_h - plot_h * i / steps
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e0e6f0"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#66788a">{escape(fmt(top * i / steps))}</text>'
        )


def _legend(parts: list[str], names: list[str], colors=COLORS) -> None:
    x = LEFT
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x:.1f}" y="10" width="12" height="10" fill="{colors[i % len(colors)]}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="19" fill="#333">{escape(name)}</text>')
        x += 28 + sum(11 if ord(ch) > 0x2E7F else 6.5 for ch in name)


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%" if v < 0.1 else f"{100 * v:.0f}%"


def channel_rates(categories: list[str], series: dict[str, list]) -> str:
    """Grouped bars: one group per category (channel), one bar per series (rates as fractions)."""
    names = list(series)
    values = [v for vs in series.values() for v in vs if v is not None]
    top, steps = _nice(max(values, default=0))
    parts: list[str] = []
    _frame(parts, " / ".join(names), top, steps, _pct)
    _legend(parts, names)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(categories), 1)
    group_w = plot_w / n
    bar_w = group_w * 0.8 / max(len(names), 1)
    for c, category in enumerate(categories):
        x0 = LEFT + c * group_w + group_w * 0.1
        for s, name in enumerate(names):
            v = series[name][c]
            if v is None:
                continue
            h = plot_h * v / top
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[s % len(COLORS)]}"><title>{escape(category)} {escape(name)} '
                f"{100 * v:.2f}%</title></rect>"
            )
        parts.append(
            f'<text x="{LEFT + (c + 0.5) * group_w:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" '
            f'fill="#333">{escape(category)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


PROGRESS_COLORS = ("#5470c6", "#91cc75", "#ee6666")  # found, corrected, outstanding


def progress(points: list[str], series: dict[str, list[int]]) -> str:
    """Lines over time (counts), one per series; the x labels thinned to about ten."""
    names = list(series)
    top, steps = _nice(max((v for vs in series.values() for v in vs), default=0))
    parts: list[str] = []
    _frame(parts, " / ".join(names), top, steps, lambda v: f"{v:,.0f}")
    _legend(parts, names, PROGRESS_COLORS)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n if n else 0)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    every = max(1, math.ceil(n / 10))
    for i, label in enumerate(points):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="#333">{escape(label[2:])}</text>'
            )
    for s, name in enumerate(names):
        color = PROGRESS_COLORS[s % len(PROGRESS_COLORS)]
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series[name]))
        if n > 1:
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in enumerate(series[name]):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"><title>{escape(points[i])} '
                f"{escape(name)} {v:,}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
