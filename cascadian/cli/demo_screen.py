"""What `cascadian demo` prints: what each demo strategy will do, the secrets it made
(so the copy-paste curl lines work), and one line per tick.

A secret the operator set is never printed: the curl lines name its variable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cascadian.reports import TickSummary


def strategy_lines(strategies: list[dict[str, Any]]) -> list[str]:
    return [f"  {s['name']}: {s['expect']}" for s in strategies]


def secret_lines(made: dict[str, str]) -> list[str]:
    return [
        f"{name}={value}  (made for this demo; set {name} to choose your own)"
        for name, value in made.items()
    ]


def curl_lines(base: str, made: dict[str, str], cron_var: str, strategy_id: str) -> list[str]:
    """Copy-paste calls: the cron route (GET, as Vercel sends it) and a control call.
    `cron_var` is the variable the cron route checks: CRON_SECRET, else ADMIN_API_KEY."""

    def token(name: str) -> str:
        return made.get(name, f"${name}")

    return [
        f'curl -H "Authorization: Bearer {token(cron_var)}" {base}/api/cron/strategy-executor',
        f'curl -H "Authorization: Bearer {token("ADMIN_API_KEY")}" '
        f"{base}/api/strategies/{strategy_id}/status",
    ]


def tick_line(when: datetime, data: TickSummary) -> str:
    """One tick as one line: how many ran, which failed, which were auto-paused."""
    stamp = when.strftime("%H:%M:%S")
    if not data.strategies_executed:
        return f"{stamp} tick: nothing due ({data.execution_time_ms} ms)"
    failed = [e.workflow_name for e in data.executions if e.status != "completed"]
    paused = [e.workflow_name for e in data.executions if e.auto_paused]
    line = (
        f"{stamp} tick: {data.strategies_executed} run(s), {data.succeeded} ok, "
        f"{data.failed} failed"
    )
    if failed:
        line += f" ({', '.join(failed)})"
    if paused:
        line += f"; auto-paused: {', '.join(paused)}"
    return f"{line} ({data.execution_time_ms} ms)"
