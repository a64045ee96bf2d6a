"""What the demo prints: what each strategy will do, working curl lines, one line a tick."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import SecretStr

from cascadian.cli.demo import demo_strategies
from cascadian.cli.demo_screen import curl_lines, strategy_lines, tick_line
from cascadian.cli.main import _demo_secrets
from cascadian.config import Settings
from cascadian.reports import RunReport, TickSummary

BASE = "http://127.0.0.1:8000"


def run(name: str, ok: bool, paused: bool = False) -> RunReport:
    return RunReport(
        workflow_id=uuid.uuid4(),
        workflow_name=name,
        status="completed" if ok else "failed",
        duration_ms=5,
        nodes_executed=2,
        error=None if ok else "boom",
        execution_id=uuid.uuid4(),
        attempt=1,
        recorded=True,
        auto_paused=paused,
    )


def summary(*runs: RunReport) -> TickSummary:
    ok = sum(r.status == "completed" for r in runs)
    return TickSummary(
        strategies_checked=len(runs),
        strategies_executed=len(runs),
        executions=list(runs),
        execution_time_ms=230,
        succeeded=ok,
        failed=len(runs) - ok,
        released=0,
        auto_paused=sum(r.auto_paused for r in runs),
    )


def test_a_tick_is_one_line_naming_failures_and_auto_pauses() -> None:
    data = summary(run("Heartbeat", True), run("Broken", False, paused=True))
    line = tick_line(datetime(2026, 1, 1, 12, 0, 15), data)
    assert line == (
        "12:00:15 tick: 2 run(s), 1 ok, 1 failed (Broken); auto-paused: Broken (230 ms)"
    )
    assert tick_line(datetime(2026, 1, 1, 12, 0, 30), summary()) == (
        "12:00:30 tick: nothing due (230 ms)"
    )


def test_the_demo_says_which_strategies_fail_on_purpose_and_which_need_the_internet() -> None:
    lines = strategy_lines(demo_strategies())
    assert len(lines) == len(demo_strategies())
    assert sum("fails on purpose" in line for line in lines) == 1
    [online] = [line for line in lines if "needs the internet" in line]
    assert online.startswith("  Polymarket") and "auto-paused" in online


def test_the_demo_makes_the_secrets_that_are_not_set_and_prints_them_in_curl_lines() -> None:
    settings, made = _demo_secrets(Settings(_env_file=None))  # type: ignore[call-arg]
    assert set(made) == {"CRON_SECRET", "ADMIN_API_KEY"}
    assert settings.tick_secret == SecretStr(made["CRON_SECRET"])
    cron, control = curl_lines(BASE, made, "CRON_SECRET", "abc")
    assert cron == (
        f'curl -H "Authorization: Bearer {made["CRON_SECRET"]}" {BASE}/api/cron/strategy-executor'
    )
    assert made["ADMIN_API_KEY"] in control and control.endswith("/api/strategies/abc/status")


def test_a_secret_the_operator_set_is_named_never_printed() -> None:
    own = Settings(CRON_SECRET="operators-own-secret-value")
    settings, made = _demo_secrets(own)
    assert set(made) == {"ADMIN_API_KEY"}
    assert settings.cron_secret == own.cron_secret
    cron, _ = curl_lines(BASE, made, "CRON_SECRET", "abc")
    assert (
        "operators-own-secret-value" not in cron and '"Authorization: Bearer $CRON_SECRET"' in cron
    )
