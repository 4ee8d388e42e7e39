"""The match-weight chart of a model as one self-contained HTML page with inline SVG: viewable
offline (Splink's own charts load Vega from the internet). One bar per comparison level, log2(m/u),
green for evidence of a match, red against; the prior (λ) first."""

from __future__ import annotations

import math
from html import escape

ROW = 18
LABEL_W = 330
BAR_W = 420


def weights(model: dict) -> list[tuple[str, str, float]]:
    """(comparison, level label, match weight) of every non-null level, the prior first."""
    lam = model.get("probability_two_random_records_match") or 1e-9
    out = [("prior", "λ = %.3g" % lam, math.log2(lam / (1 - lam)))]
    for comp in model.get("comparisons", []):
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m or not u:
                continue
            out.append((comp["output_column_name"], level.get("label_for_charts", ""), math.log2(m / u)))
    return out


def html(model: dict, title: str = "Match weights") -> str:
    rows = weights(model)
    span = max(1.0, max(abs(w) for _c, _l, w in rows))
    scale = (BAR_W / 2) / span
    mid = LABEL_W + BAR_W / 2
    height = ROW * (len(rows) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 70}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<line x1="{mid}" y1="0" x2="{mid}" y2="{height}" stroke="#888"/>',
    ]
    for i, (comp, label, w) in enumerate(rows):
        y = ROW * (i + 1)
        x, width = (mid, w * scale) if w >= 0 else (mid + w * scale, -w * scale)
        colour = "#2a7d2a" if w >= 0 else "#b03030"
        parts.append(f'<text x="4" y="{y + 12}">{escape(comp)}: {escape(label)}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{ROW - 5}" fill="{colour}"/>'
        )
        tx = mid + w * scale + (4 if w >= 0 else -46)
        parts.append(f'<text x="{tx:.1f}" y="{y + 12}">{w:+.2f}</text>')
    parts.append("</svg>")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><h1>{escape(title)}</h1><p>log2(m/u) per comparison level; the prior is "
        f"log2(λ/(1−λ)).</p>{''.join(parts)}</body></html>"
    )
