"""The console's templates (Jinja2, autoescaped) and the filters they format with.

Times are shown in UTC with how long ago, as an operator comparing them with logs
wants them; durations and lags in the largest unit that reads at a glance.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from cascadian.data import Schedule

HERE = Path(__file__).parent
STATIC = HERE / "static"
OUTPUT_CHARS = 4000


def span(seconds: float | None) -> str:
    """12 s, 4 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    s = abs(seconds)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s // 60:.0f} min"
    if s < 86400:
        h, m = divmod(int(s // 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(int(s // 3600), 24)
    return f"{d} d {h} h" if h else f"{d} d"


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: datetime | None) -> str:
    """A time in a table cell: month-day and time of day, UTC."""
    return "—" if value is None else value.astimezone(UTC).strftime("%m-%d %H:%M:%S")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    delta = ((now or datetime.now(UTC)) - value).total_seconds()
    return f"in {span(delta)}" if delta < 0 else f"{span(delta)} ago"


def duration_ms(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"


def lag_text(value: timedelta | None) -> str:
    return "on time" if value is None else f"{span(value.total_seconds())} late"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def schedule_text(schedule: Schedule) -> str:
    if schedule.cron:
        return f"cron {schedule.cron} ({schedule.timezone})"
    n = schedule.interval_minutes
    return "every minute" if n == 1 else f"every {n} minutes"


def pretty(value: Any) -> str:
    """A node's output as indented JSON, cut at OUTPUT_CHARS."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    if len(text) > OUTPUT_CHARS:
        return text[:OUTPUT_CHARS] + f"\n… ({len(text) - OUTPUT_CHARS} more characters)"
    return text


def money(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=HERE / "templates")
    t.env.filters.update(
        span=span,
        when=when,
        short=short,
        ago=ago,
        ms=duration_ms,
        lag=lag_text,
        percent=percent,
        schedule=schedule_text,
        pretty=pretty,
        money=money,
    )
    return t
