"""A paper portfolio's equity curve, drawn on the server as SVG (no script, no CDN).

The line is the portfolio's equity (cash plus open positions at their marks) at
each point; a dashed line marks its starting bankroll. As with the tick chart, the
drawing stretches to the page's width, so its scale and times are HTML around it
and its colours are classes in console.css.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from cascadian.data import EquityPoint

WIDTH, HEIGHT = 960, 160
# The band around the curve, so a flat one is drawn mid-height rather than on an edge.
PAD = Decimal("0.08")


@dataclass(frozen=True)
class EquityChart:
    svg: Markup
    low: Decimal  # the axis' bottom and top, in USD
    high: Decimal
    first: str  # when the first and last points were written (UTC)
    last: str


def equity_chart(points: Sequence[EquityPoint], bankroll: Decimal) -> EquityChart | None:
    """The curve of `points` (oldest first) against `bankroll`; None without two points."""
    if len(points) < 2:
        return None
    values = [p.equity for p in points] + [bankroll]
    low, high = min(values), max(values)
    pad = max((high - low) * PAD, Decimal("0.01"))
    low, high = low - pad, high + pad
    t0 = points[0].at
    span = max((points[-1].at - t0).total_seconds(), 1.0)

    def x(p: EquityPoint) -> float:
        return WIDTH * (p.at - t0).total_seconds() / span

    def y(value: Decimal) -> float:
        return float(HEIGHT * (high - value) / (high - low))

    line = " ".join(f"{x(p):.1f},{y(p.equity):.1f}" for p in points)
    area = f"0,{HEIGHT} {line} {x(points[-1]):.1f},{HEIGHT}"
    last = points[-1]
    label = (
        f"Equity from {t0:%Y-%m-%d %H:%M} to {last.at:%Y-%m-%d %H:%M} UTC: "
        f"{points[0].equity:,.2f} to {last.equity:,.2f} USD"
    )
    svg = (
        f'<svg class="chart equity" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" '
        f'role="img" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
        f'<polygon class="equity-area" points="{area}"/>'
        f'<line class="bankroll" x1="0" x2="{WIDTH}" y1="{y(bankroll):.1f}" '
        f'y2="{y(bankroll):.1f}" vector-effect="non-scaling-stroke"/>'
        f'<polyline class="equity-line" points="{line}" vector-effect="non-scaling-stroke"/>'
        "</svg>"
    )
    return EquityChart(
        svg=Markup(svg),  # noqa: S704 - numbers and fixed words only
        low=low,
        high=high,
        first=f"{t0:%Y-%m-%d %H:%M}",
        last=f"{last.at:%Y-%m-%d %H:%M}",
    )
