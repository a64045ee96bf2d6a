"""`cascadian prune [--dry-run]` against the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli.main import app
from tests.factories import add_strategy, rows
from tests.test_retention import add_run, count

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASCADIAN_RETENTION_KEEP_RUNS", "1")


def test_prune_dry_run_counts_what_would_go_and_deletes_nothing(env: None, db: Any) -> None:
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=now)
    for days in (60, 45, 31, 2):
        add_run(db, sid, now - timedelta(days=days), logs=2)
    result = runner.invoke(app, ["prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 9 row(s)" in result.stdout
    assert "keeping runs 30 days, ticks 14 days, read notifications 90 days" in result.stderr
    assert count(db, "workflow_executions") == 4


def test_prune_deletes_everything_past_the_window(env: None, db: Any) -> None:
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=now)
    for days in (60, 45, 31, 2):
        add_run(db, sid, now - timedelta(days=days), logs=2)
    result = runner.invoke(app, ["prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 9 row(s)" in result.stdout
    assert [r["n"] for r in rows(db, "select count(*) as n from workflow_executions")] == [1]
