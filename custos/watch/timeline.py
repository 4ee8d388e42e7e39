"""A staff member's daily reads against their peer group's median, for the alert page's chart."""

from __future__ import annotations

import datetime as dt

from custos.watch import book, store


def timeline(staff_no: str, day: dt.date, before: int = 42, after: int = 14) -> dict:
    """{"days": [...], "reads", "outside", "peer_median": [...], "peer_group"} for the window."""
    lo, hi = day - dt.timedelta(days=before), day + dt.timedelta(days=after)
    days = [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]
    con = store.connect()
    try:
        book.register(con)
        enriched = book.enriched_sql(store.source(con, lo, hi))
        con.execute(f"CREATE TEMP TABLE e AS {enriched}")
        group = con.execute("SELECT any_value(peer_group) FROM e WHERE staff_no = ?", [staff_no]).fetchone()[
            0
        ]
        mine = dict(
            (d, (n, o))
            for d, n, o in con.execute(
                "SELECT day, count(*), count(DISTINCT policy_no) FILTER (own = false) FROM e"
                " WHERE staff_no = ? GROUP BY day",
                [staff_no],
            ).fetchall()
        )
        peers = dict(
            con.execute(
                "SELECT day, median(n) FROM (SELECT staff_no, day, count(*) AS n FROM e WHERE peer_group = ?"
                " GROUP BY ALL) GROUP BY day",
                [group],
            ).fetchall()
        )
    finally:
        con.close()
    return {
        "days": days,
        "reads": [mine.get(d, (0, 0))[0] for d in days],
        "outside": [mine.get(d, (0, 0))[1] for d in days],
        "peer_median": [float(peers.get(d) or 0) for d in days],
        "peer_group": group or "",
    }


def svg(tl: dict, mark: dt.date, width: int = 760, height: int = 220) -> dict:
    """Coordinates of an inline SVG chart: polylines of the reads, the outside-portfolio reads and
    the peers' median, the alert day marked."""
    n = len(tl["days"])
    top = max([1, *tl["reads"], *tl["peer_median"]])
    pad, w, h = 36, width - 48, height - 40

    def x(i):
        return pad + (w * i / max(1, n - 1))

    def y(v):
        return 10 + h - h * v / top

    def line(vals):
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))

    i_mark = tl["days"].index(mark) if mark in tl["days"] else None
    ticks = [
        {"x": f"{x(i):.1f}", "label": d.strftime("%m-%d")} for i, d in enumerate(tl["days"]) if i % 7 == 0
    ]
    return {
        "width": width,
        "height": height,
        "reads": line(tl["reads"]),
        "outside": line(tl["outside"]),
        "peers": line(tl["peer_median"]),
        "mark_x": f"{x(i_mark):.1f}" if i_mark is not None else None,
        "top": top,
        "top_y": f"{y(top):.1f}",
        "base_y": f"{y(0):.1f}",
        "pad": pad,
        "right": pad + w,
        "ticks": ticks,
    }
