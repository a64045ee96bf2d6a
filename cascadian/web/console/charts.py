"""The overview's tick chart, drawn on the server as SVG (no script, no CDN).

Bars are the runs each time bucket's ticks executed (succeeded, with failed
stacked on top); the line is the slowest tick's duration in the bucket, on the
right-hand scale; shaded spans are gaps where the scheduler missed ticks (more
than GAP_SECONDS between two ticks, or since the last one). Colours come from
classes in console.css, so the page's CSP needs no inline styles.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from cascadian.console import TickWindow
from cascadian.data import TickEntry

# The cron ticks once a minute; this much between two ticks is a missed minute
# (not a late one: schedulers start a minute's tick anywhere within it).
GAP_SECONDS = 90.0
MAX_BARS = 240


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def missed_minutes(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 60) - 1)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    succeeded: int
    failed: int
    slowest_ms: int | None  # None: no tick in the bucket


@dataclass(frozen=True)
class ChartData:
    buckets: list[Bucket]
    bucket: timedelta
    gaps: list[Gap]
    ticks: int
    succeeded: int
    failed: int
    failed_ticks: int
    slowest_ms: int

    @property
    def missed_minutes(self) -> int:
        return sum(g.missed_minutes for g in self.gaps)


def gaps(window: TickWindow) -> list[Gap]:
    """Spans of the window with more than GAP_SECONDS between ticks, including the
    one from the last tick to now. Before the oldest tick of a window the ledger
    was not fully read for, or before the first tick ever, nothing is a gap."""
    found: list[Gap] = []
    ticks = window.ticks
    if not ticks:
        return [Gap(window.since, window.until)] if window.complete else []
    first = ticks[0]
    if window.complete and first.gap_seconds is not None and first.gap_seconds > GAP_SECONDS:
        before = first.started_at - timedelta(seconds=first.gap_seconds)
        found.append(Gap(max(before, window.since), first.started_at))
    for a, b in itertools.pairwise(ticks):
        if (b.started_at - a.started_at).total_seconds() > GAP_SECONDS:
            found.append(Gap(a.started_at, b.started_at))
    if (window.until - ticks[-1].started_at).total_seconds() > GAP_SECONDS:
        found.append(Gap(ticks[-1].started_at, window.until))
    return found


def chart_data(window: TickWindow) -> ChartData:
    span = window.until - window.since
    bucket = max(timedelta(minutes=1), span / MAX_BARS)
    count = max(1, int(span / bucket))
    grouped: list[list[TickEntry]] = [[] for _ in range(count)]
    for t in window.ticks:
        i = min(count - 1, max(0, int((t.started_at - window.since) / bucket)))
        grouped[i].append(t)
    buckets = [
        Bucket(
            start=window.since + i * bucket,
            succeeded=sum(t.succeeded for t in g),
            failed=sum(t.failed for t in g),
            slowest_ms=max((t.execution_time_ms for t in g), default=None),
        )
        for i, g in enumerate(grouped)
    ]
    return ChartData(
        buckets=buckets,
        bucket=bucket,
        gaps=gaps(window),
        ticks=len(window.ticks),
        succeeded=sum(t.succeeded for t in window.ticks),
        failed=sum(t.failed for t in window.ticks),
        failed_ticks=sum(1 for t in window.ticks if not t.success),
        slowest_ms=max((t.execution_time_ms for t in window.ticks), default=0),
    )


def _nice(top: float) -> float:
    """A round axis maximum at or above top."""
    if top <= 0:
        return 1.0
    step = 10.0 ** (len(str(int(top))) - 1)
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if top <= m * step:
            return m * step
    return 10.0 * step


def _hhmm(t: datetime) -> str:
    return t.strftime("%H:%M")


def tick_chart(window: TickWindow, data: ChartData, width: int = 960, height: int = 240) -> Markup:
    left, right, top, bottom = 40, 56, 12, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (window.until - window.since).total_seconds()

    def x(t: datetime) -> float:
        return left + plot_w * (t - window.since).total_seconds() / span

    runs_max = _nice(max((b.succeeded + b.failed for b in data.buckets), default=0))
    ms_max = _nice(max((b.slowest_ms or 0 for b in data.buckets), default=0))
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">Ticks from {_hhmm(window.since)} to {_hhmm(window.until)} '
        f"UTC: {data.ticks} ticks, {data.succeeded + data.failed} runs, {data.failed} failed, "
        f"{data.missed_minutes} missed minutes</title>",
    ]
    for g in data.gaps:
        x0, x1 = x(g.start), x(g.end)
        parts.append(
            f'<rect class="gap" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1.5):.1f}" '
            f'height="{plot_h}"><title>no tick {_hhmm(g.start)} to {_hhmm(g.end)} UTC '
            f"(about {g.missed_minutes} missed minute{'s' if g.missed_minutes != 1 else ''})"
            "</title></rect>"
        )
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis runs" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{runs_max * frac:g}</text>"
        )
        parts.append(
            f'<text class="axis ms" x="{left + plot_w + 6}" y="{y + 4:.1f}">'
            f"{_ms_label(ms_max * frac)}</text>"
        )
    bar_w = plot_w / len(data.buckets)
    line: list[str] = []
    segments: list[list[str]] = []
    for b in data.buckets:
        bx = x(b.start)
        total = b.succeeded + b.failed
        if total:
            ok_h = plot_h * b.succeeded / runs_max
            fail_h = plot_h * b.failed / runs_max
            tip = f"{_hhmm(b.start)} UTC: {b.succeeded} succeeded, {b.failed} failed"
            if b.succeeded:
                parts.append(
                    f'<rect class="bar-ok" x="{bx + 0.5:.1f}" y="{top + plot_h - ok_h:.1f}" '
                    f'width="{max(bar_w - 1, 0.8):.1f}" height="{ok_h:.1f}"><title>{tip}</title>'
                    "</rect>"
                )
            if b.failed:
                parts.append(
                    f'<rect class="bar-fail" x="{bx + 0.5:.1f}" '
                    f'y="{top + plot_h - ok_h - fail_h:.1f}" width="{max(bar_w - 1, 0.8):.1f}" '
                    f'height="{fail_h:.1f}"><title>{tip}</title></rect>'
                )
        if b.slowest_ms is None:
            if line:
                segments.append(line)
            line = []
        else:
            y = top + plot_h * (1 - b.slowest_ms / ms_max)
            line.append(f"{bx + bar_w / 2:.1f},{y:.1f}")
    if line:
        segments.append(line)
    for seg in segments:
        if len(seg) == 1:
            cx, cy = seg[0].split(",")
            parts.append(f'<circle class="dur-dot" cx="{cx}" cy="{cy}" r="2"/>')
        else:
            parts.append(f'<polyline class="dur-line" points="{" ".join(seg)}"/>')
    for i in range(7):
        t = window.since + (window.until - window.since) * i / 6
        anchor = "start" if i == 0 else "end" if i == 6 else "middle"
        parts.append(
            f'<text class="axis" x="{x(t):.1f}" y="{height - 8}" text-anchor="{anchor}">'
            f"{_hhmm(t)}</text>"
        )
    if not window.ticks:
        parts.append(
            f'<text class="empty" x="{left + plot_w / 2}" y="{top + plot_h / 2}" '
            f'text-anchor="middle">no ticks in this window</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and fixed words only


def _ms_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"
