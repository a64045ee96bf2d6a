"""The overview's tick chart, drawn on the server as SVG (no script, no CDN).

Bars are the runs each time bucket's ticks executed (succeeded, with failed
stacked on top); below them, the slowest tick's duration in each bucket. Shaded
spans are gaps where the scheduler missed ticks (more than GAP_SECONDS between
two ticks, or since the last one). The drawings stretch to the page's width, so
their scales and times are HTML around them; colours come from classes in
console.css, so the page's CSP needs no inline styles.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from cascadian.console.service import TickWindow
from cascadian.data import TickEntry

# The cron ticks once a minute; this much between two ticks is a missed minute
# (not a late one: schedulers start a minute's tick anywhere within it).
GAP_SECONDS = 90.0
MAX_BARS = 240
# The drawings' own units; they stretch to the page's width.
WIDTH, RUNS_HEIGHT, DURATION_HEIGHT = 960, 140, 60


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


@dataclass(frozen=True)
class Axes:
    """The chart's scales and time labels, drawn as HTML around the SVG so that
    text stays readable however far the drawing is stretched."""

    runs_max: float
    ms_max: float
    times: list[str]


def axes(window: TickWindow, data: ChartData) -> Axes:
    span = window.until - window.since
    return Axes(
        runs_max=_nice(max((b.succeeded + b.failed for b in data.buckets), default=0)),
        ms_max=_nice(max((b.slowest_ms or 0 for b in data.buckets), default=0)),
        times=[_hhmm(window.since + span * i / 6) for i in range(7)],
    )


def _hhmm(t: datetime) -> str:
    return t.strftime("%H:%M")


def _svg(window: TickWindow, data: ChartData, height: int, label: str, body: list[str]) -> Markup:
    span = (window.until - window.since).total_seconds()
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="none" '
        f'role="img" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
    ]
    for g in data.gaps:
        x0 = WIDTH * (g.start - window.since).total_seconds() / span
        x1 = WIDTH * (g.end - window.since).total_seconds() / span
        minutes = g.missed_minutes
        parts.append(
            f'<rect class="gap" x="{x0:.1f}" y="0" width="{max(x1 - x0, 1.5):.1f}" '
            f'height="{height}"><title>no tick {_hhmm(g.start)} to {_hhmm(g.end)} UTC '
            f"(about {minutes} missed minute{'s' if minutes != 1 else ''})</title></rect>"
        )
    parts.append(
        f'<line class="grid" x1="0" x2="{WIDTH}" y1="{height / 2}" y2="{height / 2}" '
        'vector-effect="non-scaling-stroke"/>'
    )
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and fixed words only


def runs_chart(window: TickWindow, data: ChartData) -> Markup:
    """Bars of runs per bucket, succeeded with failed stacked on top. It stretches to
    its box (preserveAspectRatio none), so the labels are HTML around it."""
    top = axes(window, data).runs_max
    bar_w = WIDTH / len(data.buckets)
    h = RUNS_HEIGHT
    body: list[str] = []
    for i, b in enumerate(data.buckets):
        if not (b.succeeded or b.failed):
            continue
        ok, fail = h * b.succeeded / top, h * b.failed / top
        tip = f"{_hhmm(b.start)} UTC: {b.succeeded} succeeded, {b.failed} failed"
        bar = f'x="{i * bar_w + 0.15 * bar_w:.1f}" width="{0.7 * bar_w:.2f}"'
        if b.succeeded:
            body.append(
                f'<rect class="bar-ok" {bar} y="{h - ok:.1f}" height="{ok:.1f}">'
                f"<title>{tip}</title></rect>"
            )
        if b.failed:
            body.append(
                f'<rect class="bar-fail" {bar} y="{h - ok - fail:.1f}" height="{fail:.1f}">'
                f"<title>{tip}</title></rect>"
            )
    label = (
        f"Runs from {_hhmm(window.since)} to {_hhmm(window.until)} UTC: "
        f"{data.succeeded} succeeded, {data.failed} failed, {data.missed_minutes} missed minutes"
    )
    return _svg(window, data, h, label, body)


def duration_chart(window: TickWindow, data: ChartData) -> Markup:
    """The slowest tick of each bucket, as a filled step line; broken where no tick."""
    top = axes(window, data).ms_max
    bar_w = WIDTH / len(data.buckets)
    h = DURATION_HEIGHT
    runs: list[list[tuple[float, float]]] = [[]]
    for i, b in enumerate(data.buckets):
        if b.slowest_ms is None:
            runs.append([])
            continue
        level = h - h * b.slowest_ms / top
        runs[-1] += [(i * bar_w, level), ((i + 1) * bar_w, level)]
    body: list[str] = []
    for pts in (r for r in runs if r):
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        area = f"{pts[0][0]:.1f},{h} {line} {pts[-1][0]:.1f},{h}"
        body.append(f'<polygon class="dur-area" points="{area}"/>')
        body.append(
            f'<polyline class="dur-line" points="{line}" vector-effect="non-scaling-stroke"/>'
        )
    label = f"Slowest tick per bucket; the slowest of all took {data.slowest_ms} ms"
    return _svg(window, data, h, label, body)
