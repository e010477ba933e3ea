"""Releases of a topic per week or month over the whole store, and the chart of them as SVG.

The chart is drawn on the server: no script, no charting library, nothing fetched. One bar per
period, empty periods included (a gap in coverage shows as a zero, not as a missing bar); each bar
carries a <title> with its count, and the page shows the same numbers as a table.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from sqlite_utils import Database

PERIODS = ("month", "week")
# A chart wider than this many periods groups by month instead (ten years of weeks is unreadable).
MAX_PERIODS = 260

# SQL of the first day of a release's period, from items.published (YYYY-MM-DD).
_PERIOD_SQL = {
    "month": "substr(i.published, 1, 7) || '-01'",
    "week": "date(i.published, '-6 days', 'weekday 1')",  # the Monday on or before it
}


@dataclass(frozen=True)
class Count:
    start: str  # first day of the period, YYYY-MM-DD
    label: str  # 2026-03 (month) or 2026-03-09 (week starting then)
    releases: int


def topic_counts(db: Database, topic: str, period: str = "month") -> list[Count]:
    """Releases (not language versions) tagged with `topic`, per period from the first to the last."""
    if period not in PERIODS:
        raise ValueError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    # Per release: the keys from the index on matches (topic, source, id), each dated by its earliest
    # version through the index on items (source, id, lang, published): no row of either table is read.
    rows = db.execute(
        "with tagged as (select distinct source, id from matches where topic = ?), "
        "dated as (select i.source, i.id, min(i.published) as published from tagged t "
        "join items i on i.source = t.source and i.id = t.id "
        "where i.published glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' group by i.source, i.id) "
        f"select {_PERIOD_SQL[period]} as period_start, count(*) from dated i "
        "group by period_start having period_start is not null order by period_start",
        [topic],
    ).fetchall()
    counted = {row[0]: row[1] for row in rows}
    if not counted:
        return []
    starts = list(_periods(min(counted), max(counted), period))
    if len(starts) > MAX_PERIODS and period == "week":
        return topic_counts(db, topic, "month")
    return [Count(start, start[:7] if period == "month" else start, counted.get(start, 0)) for start in starts]


def _periods(first: str, last: str, period: str):
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    while day <= end:
        yield day.isoformat()
        if period == "week":
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def counted(number: int, noun: str) -> str:
    """'1 release', '3 releases', '1 month': an English count (the nouns here take an s)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# --- the chart ------------------------------------------------------------------------------------
WIDTH, HEIGHT = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 36, 8, 12, 28


def svg_chart(counts: list[Count], title: str, period: str = "month", chart_id: str = "chart") -> str:
    """An accessible SVG bar chart: <title> and <desc> name it, each bar has a <title> of its own."""
    peak = max((c.releases for c in counts), default=0) or 1
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(counts), 1)
    bar_w = min(max(step * 0.8, 1.0), 48.0)
    total = sum(c.releases for c in counts)
    chart_id = html.escape(chart_id)
    desc = (f"{counted(total, 'release')} in {counted(len(counts), period)} from {counts[0].label} to "
            f"{counts[-1].label}; at most {peak} in one {period}." if counts else "No tagged release yet.")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{html.escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{html.escape(desc)}</desc>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - _RIGHT}" y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + 10}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for index, count in enumerate(counts):
        height = plot_h * count.releases / peak
        x = _LEFT + index * step + (step - bar_w) / 2
        parts.append(
            f'<rect class="mark" data-period="{count.label}" data-count="{count.releases}" x="{x:.1f}" '
            f'y="{_TOP + plot_h - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}">'
            f"<title>{count.label}: {counted(count.releases, 'release')}</title></rect>"
        )
    if counts:
        baseline = HEIGHT - 8
        parts.append(f'<text class="tick" x="{_LEFT}" y="{baseline}">{counts[0].label}</text>')
        parts.append(f'<text class="tick" x="{WIDTH - _RIGHT}" y="{baseline}" text-anchor="end">{counts[-1].label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
