"""`cascadian strategies create | import | export | validate | dry-run | list`, against
the test database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from cascadian.cli import strategies as cli_strategies
from cascadian.cli.main import app
from tests.factories import OTHER_USER, USER, add_strategy, chain, node, rows, strategy

runner = CliRunner()
GRAPH = dict(
    zip(("nodes", "edges"), chain(node("start", "start"), node("end", "end")), strict=True)
)


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli_strategies.console, "width", 200)


def cli(*args: str) -> Any:
    return runner.invoke(app, ["strategies", *args])


def write(tmp_path: Path, value: Any, name: str = "graph.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


def test_create_from_a_bare_graph_with_options(env: None, db: Any, tmp_path: Path) -> None:
    file = write(tmp_path, GRAPH)
    result = cli("create", file, "--name", "from a file", "--owner", str(USER), "--interval", "30")
    assert result.exit_code == 0, result.output
    assert "created" in result.output and "draft" in result.output
    [row] = rows(
        db, "select name, status, execution_interval_minutes, nodes from workflow_sessions"
    )
    assert (row["name"], row["status"], row["execution_interval_minutes"]) == (
        "from a file",
        "draft",
        30,
    )
    assert row["nodes"] == GRAPH["nodes"]


def test_create_with_start_sets_it_running(env: None, db: Any, tmp_path: Path) -> None:
    file = write(tmp_path, {**GRAPH, "name": "go", "user_id": str(USER)})
    result = cli("create", file, "--start")
    assert result.exit_code == 0, result.output
    [row] = rows(db, "select status, auto_run, next_execution_at from workflow_sessions")
    assert (row["status"], row["auto_run"]) == ("running", True)
    assert row["next_execution_at"] is not None


def test_create_without_a_name_or_owner_says_which_option_to_give(
    env: None, db: Any, tmp_path: Path
) -> None:
    result = cli("create", write(tmp_path, GRAPH))
    assert result.exit_code == 1
    assert "names no name and no owner" in result.output and "--name" in result.output


def test_a_graph_that_cannot_run_is_refused_with_every_problem(
    env: None, db: Any, tmp_path: Path
) -> None:
    bad = {
        "nodes": [node("start", "start"), node("f", "filter", conditions=1, logic="x")],
        "edges": [],
    }
    result = cli("create", write(tmp_path, bad), "--name", "n", "--owner", str(USER))
    assert result.exit_code == 1
    assert "2 problem(s)" in result.output
    assert "data.config.conditions" in result.output and "data.config.logic" in result.output
    assert rows(db, "select id from workflow_sessions") == []


def test_an_exported_strategy_imports_unchanged(env: None, db: Any, tmp_path: Path) -> None:
    sid = add_strategy(
        db,
        next_execution_at=None,
        name="exported",
        cron="0 9 * * 1",
        timezone="Asia/Tokyo",
        description="d",
        variables={"limit": 2},
    )
    first = cli("export", str(sid))
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert doc["name"] == "exported" and doc["schedule"]["cron"] == "0 9 * * 1"
    file = write(tmp_path, doc, "s.json")
    imported = cli("import", file)
    assert imported.exit_code == 0, imported.output
    new_id = imported.output.split()[1]
    assert new_id != str(sid)
    assert json.loads(cli("export", new_id).output) == doc


def test_import_refuses_a_file_that_is_not_a_document(env: None, tmp_path: Path) -> None:
    result = cli("import", write(tmp_path, GRAPH))
    assert result.exit_code == 1 and "name" in result.output
    garbage = tmp_path / "x.json"
    garbage.write_text("{nope")
    result = cli("import", str(garbage))
    assert result.exit_code == 1 and "is not JSON" in result.output


def test_validate_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    good = cli("validate", write(tmp_path, GRAPH))
    assert good.exit_code == 0, good.output
    assert "valid (2 nodes, 1 edges)" in good.output
    bad = cli("validate", write(tmp_path, {"nodes": [node("x", "no-such-type")]}, "bad.json"))
    assert bad.exit_code == 1 and "node 'x', type" in bad.output


def test_validate_checks_the_whole_document_and_lists_every_problem_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    doc = {
        "name": "bad",
        "user_id": str(USER),
        "schedule": {"interval_minutes": 0, "cron": "61 * * * *", "timezone": "Mars/Olympus"},
        "nodes": [node("x", "no-such-type")],
    }
    result = cli("validate", write(tmp_path, doc))
    assert result.exit_code == 1
    assert "4 problem(s)" in result.output
    assert "schedule.interval_minutes" in result.output
    assert "schedule.cron: invalid cron expression '61 * * * *'" in result.output
    assert "schedule.timezone: unknown time zone 'Mars/Olympus'" in result.output
    assert "node 'x', type" in result.output


def test_create_refuses_a_schedule_in_words_as_a_problem_not_a_bug(
    env: None, db: Any, tmp_path: Path
) -> None:
    doc = {**GRAPH, "name": "words", "user_id": str(USER), "schedule": "every 5 min"}
    for command in ("validate", "create", "import"):
        result = cli(command, write(tmp_path, doc))
        assert result.exit_code == 1, (command, result.output)
        assert "schedule: must be an object" in result.output
        assert "bug" not in result.output and "ValueError" not in result.output
    assert rows(db, "select id from workflow_sessions") == []


def test_dry_run_shows_what_each_node_would_have_done(env: None, db: Any) -> None:
    nodes, edges = chain(
        node("start", "start"), node("tell", "notify", title="Hello", message="there")
    )
    sid = add_strategy(
        db, next_execution_at=datetime.now(UTC) + timedelta(hours=1), graph=(nodes, edges)
    )
    result = cli("dry-run", str(sid))
    assert result.exit_code == 0, result.output
    assert "not recorded" in result.output and "notify" in result.output
    assert rows(db, "select * from notifications") == []
    assert strategy(db, sid)["execution_count"] == 0
    as_json = json.loads(cli("dry-run", str(sid), "--json").output)
    assert as_json["success"] is True and as_json["intents"][0]["action"] == "notify"


def test_dry_run_asks_the_llm_provider_only_with_allow_llm(
    env: None, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = "https://llm.test/v1"
    monkeypatch.setenv("CASCADIAN_LLM_BASE_URL", llm)
    nodes, edges = chain(
        node("start", "start"), node("ai", "original-llm-analysis", userPrompt="Yes?")
    )
    sid = add_strategy(
        db, next_execution_at=datetime.now(UTC) + timedelta(hours=1), graph=(nodes, edges)
    )
    with respx.mock(assert_all_called=False) as router:
        chat = router.post(f"{llm}/chat/completions").respond(
            200, json={"choices": [{"message": {"content": "yes"}}]}
        )
        refused = cli("dry-run", str(sid), "--json")
        assert refused.exit_code == 1 and not chat.called
        assert "--allow-llm" in json.loads(refused.output)["error"]
        allowed = cli("dry-run", str(sid), "--json", "--allow-llm")
        assert allowed.exit_code == 0, allowed.output
        assert chat.call_count == 1
    assert json.loads(allowed.output)["outputs"]["ai"]["result"] == "yes"


def test_list_filters_and_says_how_many_match(env: None, db: Any) -> None:
    for name in ("mine one", "mine two", "mine three"):
        add_strategy(db, next_execution_at=None, name=name)
    add_strategy(db, next_execution_at=None, name="theirs", user_id=OTHER_USER, status="paused")
    page = cli("list", "--limit", "2")
    assert page.exit_code == 0, page.output
    assert "2 strategies of 4" in page.output
    theirs = cli("list", "--owner", str(OTHER_USER), "--status", "paused")
    assert "1 strategy" in theirs.output and "theirs" in theirs.output
    assert "mine" not in theirs.output
    searched = cli("list", "--search", "MINE", "--sort", "name", "--desc")
    assert "3 strategies" in searched.output
    assert searched.output.index("mine two") < searched.output.index("mine one")
    assert cli("list", "--sort", "colour").exit_code == 1
    assert cli("list", "--status", "sleeping").exit_code == 1


def test_unknown_ids(env: None, db: Any) -> None:
    for command in ("export", "dry-run"):
        result = cli(command, str(uuid.uuid4()))
        assert result.exit_code == 1 and "not found" in result.output
