"""`cascadian audit`, and the CLI's changes arriving in the audit log as the operator's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli import audit as cli_audit
from cascadian.cli.main import app
from tests.factories import add_strategy, rows

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli_audit.console, "width", 200)  # no wrapping in tables


def test_a_cli_change_is_logged_and_audit_shows_who_what_and_the_change(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC), name="Arb")
    assert runner.invoke(app, ["strategies", "pause", str(sid)]).exit_code == 0
    [entry] = rows(db, "select actor_kind, source, address, action from cascadian_audit_log")
    assert entry == {"actor_kind": "operator", "source": "cli", "address": None, "action": "pause"}
    result = runner.invoke(app, ["audit", "--strategy", str(sid)])
    assert result.exit_code == 0, result.output
    assert "operator" in result.output and "pause" in result.output and "Arb" in result.output
    assert "status: running -> paused" in result.output


def test_audit_pages_with_a_cursor_and_answers_json(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC))
    for action in ("pause", "resume", "stop"):
        assert runner.invoke(app, ["strategies", action, str(sid)]).exit_code == 0
    first = runner.invoke(app, ["audit", "--limit", "2", "--json"])
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)
    assert [e["action"] for e in page["data"]] == ["stop", "resume"]
    rest = runner.invoke(app, ["audit", "--json", "--cursor", page["next_cursor"]])
    assert [e["action"] for e in json.loads(rest.stdout)["data"]] == ["pause"]


@pytest.mark.parametrize(
    "args",
    [["--action", "explode"], ["--actor", "admin"], ["--source", "fax"], ["--cursor", "zzz"]],
)
def test_a_bad_filter_exits_1_with_one_line(env: None, db: Any, args: list[str]) -> None:
    result = runner.invoke(app, ["audit", *args])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize("action", ["lift_halt", "set_limits", "approve_decision", "rerun"])
def test_the_trading_and_decision_actions_are_filters_too(env: None, db: Any, action: str) -> None:
    result = runner.invoke(app, ["audit", "--action", action, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["data"] == []
