"""Log lines: JSON with the tick's, strategy's and run's ids; the development warning once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian import logs
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import RunResult, Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.api_client import client
from tests.executors import ScriptedExecutor, ok
from tests.factories import add_strategy, rows

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def json_logs() -> Iterator[None]:
    """CASCADIAN_LOG_FORMAT=json for the test, and the logging as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure(logging.INFO, "json")
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


async def says_something(workflow: Workflow) -> RunResult:
    logging.getLogger("tests.node").warning("node says hello")
    return ok()


async def test_json_lines_carry_the_tick_strategy_and_execution_ids(
    store: SqlStore, db: Any, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = add_strategy(db, next_execution_at=NOW - timedelta(seconds=5), name="talker")
    executor = ScriptedExecutor(talker=says_something)
    report = await TickService(store, executor, Settings(), FakeClock(NOW)).tick()
    lines = json_lines(capsys.readouterr().err)
    [run_line] = [line for line in lines if line["message"] == "node says hello"]
    [execution] = report.executions
    assert run_line["tick_id"] == str(report.id)
    assert run_line["strategy_id"] == str(sid)
    assert run_line["execution_id"] == str(execution.execution_id)
    assert (run_line["level"], run_line["logger"]) == ("WARNING", "tests.node")
    assert datetime.strptime(run_line["time"], "%Y-%m-%dT%H:%M:%S%z")
    [tick_line] = [line for line in lines if line["logger"] == "cascadian.tick"]
    assert tick_line["tick_id"] == str(report.id) and "strategy_id" not in tick_line
    assert "max lag 5.0s" in tick_line["message"]
    # The id in the log lines is the ledger's.
    assert rows(db, "select id from cron_ticks") == [{"id": report.id}]


async def test_lines_outside_a_tick_carry_no_ids(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("cascadian.test").warning("plain %s", "words")
    [line] = json_lines(capsys.readouterr().err)
    assert line["message"] == "plain words"
    assert not set(line) & {"tick_id", "strategy_id", "execution_id"}


def test_a_traceback_stays_on_the_one_json_line(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("cascadian.test").exception("it failed")
    [line] = json_lines(capsys.readouterr().err)
    assert "ValueError: bad" in line["exc_info"]


def test_text_lines_are_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure(logging.INFO, "text")
    try:
        logging.getLogger("cascadian.test").info("two\nlines")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert capsys.readouterr().err == "INFO cascadian.test: two lines\n"


async def test_the_development_warning_is_logged_once_not_per_request(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cascadian.web.deps"):
        async with client(store, CRON_SECRET=None, ADMIN_API_KEY=None) as c:
            for _ in range(3):
                assert (await c.get("/api/cron/strategy-executor")).status_code == 200
                assert (await c.get("/api/cron/ticks")).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "cascadian.web.deps"]
    assert len(warnings) == 2
    assert any(w.startswith("CRON_SECRET is not set") for w in warnings)
    assert any(w.startswith("ADMIN_API_KEY is not set") for w in warnings)


def test_uvicorns_coloured_copy_of_its_message_is_no_field(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started \x1b[36m%d\x1b[0m"}
    )
    [line] = json_lines(capsys.readouterr().err)
    assert line["message"] == "Started server process [42]" and "color_message" not in line


async def test_a_failed_ticks_line_is_a_warning_naming_the_cause(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    down = SqlStore.postgres("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)
    await down.open()
    try:
        report = await TickService(down, ScriptedExecutor(), Settings(), FakeClock(NOW)).tick()
    finally:
        await down.close()
    assert report.error is not None
    [line] = [x for x in json_lines(capsys.readouterr().err) if x["logger"] == "cascadian.tick"]
    assert line["level"] == "WARNING"
    assert "Connection refused" in line["message"] and "tick_summary" not in line
