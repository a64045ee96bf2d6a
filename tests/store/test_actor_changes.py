"""Every change takes its actor (migrations/027): it is written to the audit log in the
change's own transaction, and a user changes only their own strategies, a stranger's
answering not_found exactly as a missing one does. Over both transports, on both
schemas."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cascadian.data import Actor, Schedule, StrategyChanges, StrategyDraft, StrategyGraph
from cascadian.errors import StoreRejected
from cascadian.ports import FullStore
from tests.factories import OPERATOR, OTHER_USER, USER, add_strategy, rows, strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
GRAPH = StrategyGraph([{"id": "start", "type": "start", "data": {"config": {}}}], [], {})
OWNER = Actor.user(USER, "api", "203.0.113.7")
STRANGER = Actor.user(OTHER_USER, "api", "198.51.100.9")


def audit(db: Any) -> list[dict[str, Any]]:
    return rows(
        db,
        "select actor_kind, actor_user_id, source, address, action, workflow_id, before, after,"
        " at from cascadian_audit_log order by id",
    )


# Each change, as the store makes it for `actor`, on a strategy set up to accept it.
Change = Callable[[FullStore, uuid.UUID, Actor], Awaitable[Any]]
CHANGES: dict[str, tuple[dict[str, Any], Change]] = {
    "start": (
        {"status": "draft", "auto_run": False, "next_execution_at": None},
        lambda s, sid, a: s.start(sid, Schedule(10), LATER, NOW, a),
    ),
    "pause": ({}, lambda s, sid, a: s.pause(sid, NOW, a)),
    "stop": ({}, lambda s, sid, a: s.stop(sid, NOW, a)),
    "resume": (
        {"status": "paused", "auto_run": False},
        lambda s, sid, a: s.resume(sid, LATER, NOW, a),
    ),
    "run_now": ({}, lambda s, sid, a: s.claim_manual(sid, NOW, 60, a)),
    "new_version": (
        {},
        lambda s, sid, a: s.new_version(sid, StrategyChanges(graph=GRAPH), None, None, NOW, a),
    ),
    "update": (
        {},
        lambda s, sid, a: s.update_strategy(
            sid, StrategyChanges(name="renamed"), None, None, NOW, a
        ),
    ),
    "archive": ({}, lambda s, sid, a: s.archive_strategy(sid, NOW, a)),
}


def result_of(answer: Any) -> str:
    """The result code, whichever shape the change answers in."""
    if isinstance(answer, tuple):
        return str(answer[0])
    return str(getattr(answer, "result", answer))


@pytest.mark.parametrize("action", list(CHANGES))
async def test_each_change_writes_who_what_when_and_where_with_the_changed_fields(
    any_store: FullStore, db: Any, action: str
) -> None:
    arrange, change = CHANGES[action]
    sid = add_strategy(db, **({"next_execution_at": NOW, "name": "Arb"} | arrange))
    assert result_of(await change(any_store, sid, OWNER)) == "ok"
    [entry] = audit(db)
    assert (entry["actor_kind"], entry["actor_user_id"], entry["source"], entry["address"]) == (
        "user",
        USER,
        "api",
        "203.0.113.7",
    )
    assert entry["action"] == action and entry["at"] == NOW
    # Only what changed, before and after.
    assert set(entry["before"]) == set(entry["after"]) and entry["after"]
    for key in entry["after"]:
        assert entry["before"][key] != entry["after"][key]


async def test_a_pause_logs_the_status_and_schedule_flag_it_changed(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    assert await any_store.pause(sid, NOW, OPERATOR) == "ok"
    [entry] = audit(db)
    assert (entry["actor_kind"], entry["actor_user_id"], entry["workflow_id"]) == (
        "operator",
        None,
        sid,
    )
    assert entry["before"] == {"status": "running", "auto_run": True}
    assert entry["after"] == {"status": "paused", "auto_run": False}


async def test_a_run_now_logs_the_run_it_started(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    claim = await any_store.claim_manual(sid, NOW, 60, OPERATOR)
    assert claim.run is not None
    [entry] = audit(db)
    assert entry["after"] == {"execution_id": str(claim.run.execution_id)}


async def test_a_new_version_is_logged_against_the_new_version_with_both_ids(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    result, new_id = await any_store.new_version(
        sid, StrategyChanges(name="v2", graph=GRAPH), None, None, NOW, OPERATOR
    )
    assert result == "ok"
    [entry] = audit(db)
    assert entry["workflow_id"] == new_id
    assert entry["before"]["id"] == str(sid) and entry["after"]["id"] == str(new_id)
    assert (entry["before"]["version"], entry["after"]["version"]) == (1, 2)
    assert entry["after"]["name"] == "v2"


@pytest.mark.parametrize("imported", [False, True])
async def test_a_creation_is_logged_with_its_fields_and_an_import_as_an_import(
    any_store: FullStore, db: Any, imported: bool
) -> None:
    draft = StrategyDraft(USER, "made", GRAPH, Schedule(10))
    sid = await any_store.create_strategy(draft, False, None, NOW, OPERATOR, imported)
    [entry] = audit(db)
    assert entry["action"] == ("import" if imported else "create")
    assert entry["workflow_id"] == sid and entry["before"] is None
    assert entry["after"]["name"] == "made" and entry["after"]["status"] == "draft"
    assert "description" not in entry["after"]  # unset fields are left out


async def test_a_strategy_a_user_creates_is_theirs_whatever_the_draft_says(
    any_store: FullStore, db: Any
) -> None:
    draft = StrategyDraft(OTHER_USER, "mine", GRAPH, Schedule(10))
    sid = await any_store.create_strategy(draft, False, None, NOW, OWNER)
    assert strategy(db, sid)["user_id"] == USER
    assert audit(db)[0]["after"]["user_id"] == str(USER)


@pytest.mark.parametrize("action", list(CHANGES))
async def test_a_user_changing_another_users_strategy_finds_nothing_and_changes_nothing(
    any_store: FullStore, db: Any, action: str
) -> None:
    arrange, change = CHANGES[action]
    sid = add_strategy(db, **({"next_execution_at": NOW} | arrange))
    before = strategy(db, sid)
    assert result_of(await change(any_store, sid, STRANGER)) == "not_found"
    missing = result_of(await change(any_store, uuid.uuid4(), STRANGER))
    assert missing == "not_found"  # the same answer: its existence is not confirmed
    assert strategy(db, sid) == before
    assert audit(db) == []
    assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 1}]
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 0}]


@pytest.mark.parametrize("action", list(CHANGES))
async def test_an_operator_changes_any_users_strategy(
    any_store: FullStore, db: Any, action: str
) -> None:
    arrange, change = CHANGES[action]
    sid = add_strategy(db, **({"next_execution_at": NOW, "user_id": OTHER_USER} | arrange))
    assert result_of(await change(any_store, sid, Actor.operator("cli"))) == "ok"
    assert [(e["actor_kind"], e["source"], e["address"]) for e in audit(db)] == [
        ("operator", "cli", None)
    ]


async def test_a_refused_change_writes_no_entry(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW, status="paused", auto_run=False)
    assert await any_store.pause(sid, NOW, OPERATOR) == "already_paused"
    assert await any_store.start(uuid.uuid4(), Schedule(5), LATER, NOW, OPERATOR) == "not_found"
    assert audit(db) == []


async def test_a_user_halting_their_own_strategy_is_told_they_did(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Arb")
    assert await any_store.pause(sid, NOW, OWNER) == "ok"
    [note] = rows(db, "select message from notifications")
    assert note["message"] == 'Strategy "Arb" was paused by you.'


@pytest.mark.parametrize(
    "actor",
    [
        {"kind": "user", "user_id": None, "source": "api"},
        {"kind": "operator", "user_id": str(USER), "source": "api"},
        {"kind": "admin", "source": "api"},
        {"kind": "operator", "source": "carrier pigeon"},
        None,
    ],
)
def test_a_malformed_actor_is_refused_and_changes_nothing(
    db: Any, actor: dict[str, Any] | None
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute(
            "select cascadian_halt_v4(%s, 'paused', %s, %s)",
            (sid, NOW, None if actor is None else psycopg.types.json.Jsonb(actor)),
        )
    assert strategy(db, sid)["status"] == "running"
    assert audit(db) == []


async def test_the_change_and_its_entry_are_one_transaction(any_store: FullStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    db.execute(
        "create function pg_temp_refuse() returns trigger language plpgsql as"
        " $$ begin raise exception 'audit refused'; end $$"
    )
    db.execute(
        "create trigger refuse before insert on cascadian_audit_log"
        " for each row execute function pg_temp_refuse()"
    )
    try:
        with pytest.raises(StoreRejected):
            await any_store.pause(sid, NOW, OPERATOR)
    finally:
        db.execute("drop trigger refuse on cascadian_audit_log")
        db.execute("drop function pg_temp_refuse()")
    assert (strategy(db, sid)["status"], strategy(db, sid)["auto_run"]) == ("running", True)
