"""`cascadian runs list | rerun` and `cascadian strategies bulk`, against the test
database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli import operators
from cascadian.cli.main import app
from tests.factories import OTHER_USER, USER, add_run, add_strategy, chain, node, rows, strategy

runner = CliRunner()
HELLO = chain(node("start", "start"), node("end", "end"))
SNAPSHOT = {"name": "Recorded", "nodes": HELLO[0], "edges": HELLO[1], "variables": {}}


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(operators.console, "width", 200)  # no wrapping in tables


def now() -> datetime:
    return datetime.now(UTC)


def test_every_failed_run_in_the_last_hour(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Cheap markets")
    recent = add_run(
        db,
        sid,
        started_at=now() - timedelta(minutes=5),
        status="failed",
        error_message="node 'f': boom",
    )
    old = add_run(db, sid, started_at=now() - timedelta(hours=3), status="failed")
    fine = add_run(db, sid, started_at=now() - timedelta(minutes=1))
    result = runner.invoke(app, ["runs", "list", "--status", "failed", "--last", "1h"])
    assert result.exit_code == 0, result.output
    assert str(recent) in result.output and "node 'f': boom" in result.output
    assert str(old) not in result.output and str(fine) not in result.output
    assert "1 run, newest first" in result.output


def test_a_list_goes_on_from_its_cursor(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    made = [add_run(db, sid, started_at=now() - timedelta(minutes=m)) for m in (1, 2, 3)]
    first = runner.invoke(app, ["runs", "list", "--limit", "2"])
    assert first.exit_code == 0, first.output
    cursor = first.stderr.split("--cursor ")[1].strip()
    second = runner.invoke(app, ["runs", "list", "--limit", "2", "--cursor", cursor])
    assert str(made[2]) in second.output and str(made[0]) not in second.output


def test_a_span_or_cursor_that_cannot_be_read_is_one_line(env: None, db: Any) -> None:
    bad_span = runner.invoke(app, ["runs", "list", "--last", "an hour"])
    assert bad_span.exit_code == 1
    assert "cannot read the span 'an hour'" in bad_span.stderr
    bad_cursor = runner.invoke(app, ["runs", "list", "--cursor", "zzz"])
    assert bad_cursor.exit_code == 1 and "not one a page of runs answered" in bad_cursor.stderr


def test_rerun_runs_a_failed_run_again_and_refuses_one_that_did_not_fail(
    env: None, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Cheap")
    failed = add_run(db, sid, started_at=now(), status="failed", snapshot=SNAPSHOT)
    result = runner.invoke(app, ["runs", "rerun", str(failed)])
    assert result.exit_code == 0, result.output
    assert f"re-ran {failed} as run" in result.output and "completed" in result.output
    [again] = rows(db, "select id from workflow_executions where rerun_of = %s", failed)
    refused = runner.invoke(app, ["runs", "rerun", str(again["id"])])
    assert refused.exit_code == 1
    assert "refused: only a failed run can be re-run" in refused.stderr


def test_bulk_pause_of_one_owner_shows_the_selection_asks_and_reports_each(
    env: None, db: Any
) -> None:
    a = add_strategy(db, next_execution_at=now(), name="A")
    add_strategy(db, next_execution_at=None, name="B", status="paused", auto_run=False)
    other = add_strategy(db, next_execution_at=now(), name="C", user_id=OTHER_USER)
    args = ["strategies", "bulk", "pause", "--owner", str(USER)]
    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 1
    assert "pause would act on 2 strategies" in declined.output
    assert strategy(db, a)["status"] == "running"

    done = runner.invoke(app, args, input="y\n")
    assert done.exit_code == 0, done.output
    assert "1 changed, 1 already so, 0 refused" in done.output
    assert strategy(db, a)["status"] == "paused"
    assert strategy(db, other)["status"] == "running"


def test_bulk_resume_exits_1_when_one_is_refused(env: None, db: Any) -> None:
    add_strategy(db, next_execution_at=None, name="Draft", status="draft", auto_run=False)
    result = runner.invoke(app, ["strategies", "bulk", "resume", "--yes"])
    assert result.exit_code == 1
    assert "refused" in result.output and "only a paused, stopped or errored" in result.output
