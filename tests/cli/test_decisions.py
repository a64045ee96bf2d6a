"""`cascadian decisions list|approve|reject` against the test database (the CLOB's book
by respx): an approval places the paper buy once, audited as the CLI's operator; a
rejected one never places; a refusal is one line and exit 1, changing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from cascadian.cli import common
from cascadian.cli.main import app
from tests.factories import add_run, add_strategy, rows
from tests.polymarket_fixtures import CLOB, GAMMA
from tests.workflow.original.helpers import polymarket

runner = CliRunner()
YES_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASCADIAN_CLOB_URL", CLOB)
    monkeypatch.setenv("CASCADIAN_POLYMARKET_URL", GAMMA)
    monkeypatch.setattr(common.console, "width", 200)


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def pending(
    db: Any, question: str = "Will the Fed cut interest rates at the December 2025 meeting?"
) -> uuid.UUID:
    now = datetime.now(UTC)
    sid = add_strategy(db, next_execution_at=None)
    run = add_run(db, sid, started_at=now)
    decision = {
        "market_id": "253591",
        "market_question": question,
        "outcome": "Yes",
        "token_id": YES_TOKEN,
        "direction": "YES",
        "recommended_size": "20",
        "risk_score": 5,
        "ai_reasoning": "edge",
        "ai_confidence": "0.5",
        "portfolio_snapshot": {},
        "expires_at": (now + timedelta(hours=1)).isoformat(),
    }
    [[made]] = db.execute(
        "select cascadian_create_decisions_v2(%s, %s)",
        (
            Jsonb(
                {
                    "workflow_id": str(sid),
                    "execution_id": str(run),
                    "node_id": "o",
                    "decisions": [decision],
                }
            ),
            now,
        ),
    ).fetchall()
    return uuid.UUID(made[0]["id"])


@respx.mock
def test_list_then_approve_places_once_and_is_audited(env: None, db: Any) -> None:
    polymarket(respx.mock)
    did = pending(db)
    listed = cli("decisions", "list")
    first = cli("decisions", "approve", str(did))
    again = cli("decisions", "approve", str(did))
    assert listed.exit_code == 0 and str(did) in listed.output and "$20.00" in listed.output
    assert first.exit_code == 0, first.output
    assert first.output.startswith("approved: YES Yes on Will the Fed")
    assert "paper order filled" in first.output
    assert again.exit_code == 0 and "(the first approval's order)" in again.output
    assert len(rows(db, "select order_id from cascadian_trading_orders")) == 1
    [entry] = rows(db, "select action, source from cascadian_audit_log")
    assert entry == {"action": "approve_decision", "source": "cli"}


def test_reject_then_approve_places_nothing_and_exits_1(env: None, db: Any) -> None:
    did = pending(db)
    rejected = cli("decisions", "reject", str(did), "--reason", "too late")
    approved = cli("decisions", "approve", str(did))
    assert rejected.exit_code == 0 and rejected.output.startswith("rejected:")
    assert approved.exit_code == 1 and approved.output.startswith("already_rejected:")
    assert rows(db, "select order_id from cascadian_trading_orders") == []


def test_an_unknown_decision_or_status_exits_1_naming_it(env: None, db: Any) -> None:
    pending(db)
    missing = cli("decisions", "approve", str(uuid.uuid4()))
    status = cli("decisions", "list", "--status", "maybe")
    assert missing.exit_code == 1 and "decision not found" in missing.output
    assert status.exit_code == 1 and "status must be one of" in status.output
    assert rows(db, "select status from orchestrator_decisions") == [{"status": "pending"}]


@respx.mock
def test_a_market_s_text_is_shown_as_written_never_as_markup(env: None, db: Any) -> None:
    """Gamma's question is anyone's text: rich markup in it is printed, not obeyed."""
    polymarket(respx.mock)
    did = pending(db, "[bold red]Will[/bold red] it [link=https://x.example]rain[/link]?")
    listed = cli("decisions", "list")
    rejected = cli("decisions", "reject", str(did))
    assert listed.exit_code == 0 and rejected.exit_code == 0, rejected.output
    assert "[bold red]Will[/bold red] it [link=https://x.exa │" in listed.output
    assert "[bold red]Will[/bold red] it [link=https://x.example]rain[/link]?" in rejected.output
