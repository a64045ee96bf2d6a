"""Every SQL function the code names exists after migrating, and no version is left
that nothing calls.

A change to a function's behaviour adds a new version beside the old one
(cascadian_claim_due_v3 beside v2), so the previous release keeps working while
the next one deploys; once nothing calls the old one, a migration drops it
(021). Names are found wherever they are written, as the regex finds them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cascadian.store.migrate import SOURCE_MIGRATIONS, migrate
from tests.store.schema_snapshot import describe, scratch_database

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_NAME = re.compile(r"cascadian_[a-z0-9_]+_v[0-9]+")
DROPS = SOURCE_MIGRATIONS / "021_drop_superseded_functions.sql"
DROP = re.compile(r"drop function if exists\s+(cascadian_\w+)\s*\(([^)]*)\)")

# Functions that stay although no Python names them, and why.
KEPT = {
    "cascadian_finish_runs_v2": "cascadian_finish_runs_v4 falls back to it for a refused batch",
    "cascadian_finish_runs_v3": "superseded by v4 (051); the release before finishes with it "
    "while the next deploys",
    "cascadian_claim_manual_v2": "cascadian_claim_manual_v3 calls it for a strategy not archived",
    "cascadian_start_v2": "cascadian_start_v3 calls it for a strategy not archived",
    "cascadian_resume_v2": "cascadian_resume_v3 calls it for a strategy not archived",
    "cascadian_halt_v2": "cascadian_halt_v3 calls it for a strategy not archived",
    "cascadian_archived_v1": "the v3 control functions ask it",
    # Superseded by the actor's versions (027); the release before it calls these
    # while the next one deploys (migrate, then deploy), and a later migration drops them.
    "cascadian_claim_manual_v3": "the previous release's run now (027 has v4)",
    "cascadian_start_v3": "the previous release's start (027 has v4)",
    "cascadian_halt_v3": "the previous release's pause and stop (027 has v4)",
    "cascadian_resume_v3": "the previous release's resume (027 has v4)",
    "cascadian_create_strategy_v1": "the previous release's create (027 has v2)",
    "cascadian_new_version_v1": "the previous release's new version (027 has v2)",
    "cascadian_update_strategy_v1": "the previous release's update (027 has v2)",
    "cascadian_archive_strategy_v1": "the previous release's archive (027 has v2)",
    "cascadian_actor_user_v1": "each change function of 027 checks its actor with it",
    "cascadian_audit_fields_v1": "each change function of 027 reads a strategy's fields with it",
    "cascadian_audit_v1": "each change function of 027 writes its audit entry with it",
    "cascadian_send_notification_v1": "the finish, the halt and cascadian_notify_v2 send with it",
    "cascadian_notification_allowed_v1": "cascadian_send_notification_v1 asks it",
    "cascadian_restrict_functions_v1": "each migration that adds a function ends with it",
    "cascadian_grant_data_api_v1": "019 calls it, and so will a migration that adds a table",
    "cascadian_runs_query_v1": "cascadian_runs_v1 runs the query it builds",
    "cascadian_runs_query_v2": "cascadian_runs_v2 runs the query it builds (bench EXPLAINs it)",
    "cascadian_runs_v1": "the release before 053's runs list; superseded there",
    "cascadian_restore_policies_v1": "the roll back in docs/existing-deployment.md calls it",
    "cascadian_guard_scheduler_columns_v1": "022's trigger on workflow_sessions runs it",
    "cascadian_limits_json_v1": "032's limits and portfolio functions answer with it",
    "cascadian_decision_json_v1": "046's decision functions answer with it",
    "cascadian_place_paper_order_v1": "the previous release's order nodes call it while this "
    "one deploys (024 adds v2); a later migration drops it",
    "cascadian_place_paper_order_v4": "cascadian_decide_v1 places with it; the release "
    "before 054 places with it while the next deploys",
    "cascadian_create_decisions_v1": "the release before 054 writes decisions with it while "
    "the next deploys",
    "cascadian_decide_v1": "the release before 055 approves with it while the next deploys",
    "cascadian_decide_v2": "superseded by v3 (059); the release before approves with it "
    "while the next deploys",
    "cascadian_decision_refusal_v1": "cascadian_decide_v2 (055) checks an approval with it",
    "cascadian_decide_v3": "superseded by v4 (065); the release before approves with it "
    "while the next deploys",
    "cascadian_decision_refusal_v2": "cascadian_decide_v4 (065) checks an approval with it",
    "cascadian_guard_decision_columns_v1": "055's trigger on orchestrator_decisions runs it",
    "cascadian_run_slot_v1": "054's order and decision functions key a run's slot with it",
    "cascadian_halt_trading_v1": "cascadian_place_paper_order_v5 and mark_portfolios_v3 (the "
    "release before 064) call it on a daily loss breach",
    "cascadian_halt_trading_v2": "064's order and marking functions call it on a daily loss breach",
    "cascadian_place_paper_order_v5": "superseded by v6 (064); decide_v3 and the release "
    "before place with it while the next deploys",
    "cascadian_mark_portfolios_v3": "superseded by v4 (064); the release before marks with it "
    "while the next deploys",
    "cascadian_track_position_v2": "048's trigger on cascadian_paper_orders runs it",
    "cascadian_portfolio_value_v1": "025's marks, points and curve value a portfolio with it",
    "cascadian_write_equity_point_v2": "033's mark and settle functions write points with it",
    # Triggers (028): helpers of the functions the store calls.
    "cascadian_copy_triggers_v1": "028's trigger on workflow_sessions runs it (new versions)",
    "cascadian_rebaseline_triggers_v1": "042's trigger on workflow_sessions runs it (resumes)",
    "cascadian_trigger_overview_v1": "cascadian_trigger_overview_v2 (043) extends it",
    "cascadian_listener_state_v1": "the release before 043 reports with it during a deploy",
    "cascadian_listener_state_v2": "superseded by v3 (056, bigint counters); the release "
    "before reports with it while the next deploys",
    "cascadian_trigger_json_v1": "cascadian_triggers_v1 and cascadian_set_triggers_v1 use it",
    "cascadian_observations_v1": "cascadian_observe_v1 reads its observations through it",
    "cascadian_trigger_definitions_v1": "cascadian_set_triggers_v1 audits with it",
    "cascadian_settle_resolved_v1": "cascadian_observe_v1 settles a resolved market with it",
    # The reads scoped to a user (031) wrap the operator's versions.
    "cascadian_strategy_v1": "cascadian_strategy_v2 answers with it",
    "cascadian_list_strategies_v1": "cascadian_list_strategies_v2 answers with it",
    "cascadian_executions_v1": "cascadian_executions_v2 answers with it",
    "cascadian_execution_v2": "cascadian_execution_v3 answers with it",
    "cascadian_execution_v3": "superseded by v4 (051); the release before reads runs with it "
    "while the next deploys",
    "cascadian_paper_book_v1": "cascadian_paper_book_v2 answers with it",
    "cascadian_strategies_v1": "superseded by v2 (031); the release before calls it while "
    "the next deploys, and a later drop migration removes it",
    "cascadian_claim_due_v3": "superseded by v4 (039); the release before claims with it "
    "while the next deploys, and a later drop migration removes it",
    "cascadian_fair_picks_v1": "cascadian_claim_due_v4 chooses its strategies with it",
    "cascadian_set_trading_limits_v2": "its v3 (040) calls it for the change",
    "cascadian_set_kill_switch_v1": "its v2 (040) calls it for the change",
    "cascadian_set_kill_switch_v2": "its v3 (057) calls it for the change",
    "cascadian_place_paper_order_v2": "cascadian_place_paper_order_v3 (040) calls it to record",
    "cascadian_place_paper_order_v3": "superseded by v4 (041); the release before places with it "
    "while the next deploys",
    "cascadian_mark_portfolios_v2": "superseded by v3 (041); the release before marks with it "
    "while the next deploys",
    "cascadian_day_loss_detail_v1": "041's order and mark functions word a breach with it",
    "cascadian_prune_market_history_v1": "044's v2 deletes with it (and the previous "
    "release's recorder prunes with it while the next deploys)",
    "cascadian_prune_market_history_v2": "superseded by v3 (056, imports kept apart); the "
    "release before prunes with it while the next deploys",
    "cascadian_claim_rerun_v1": "superseded by v2 (048); the release before re-runs with it "
    "while the next deploys",
    "cascadian_equity_curve_v1": "superseded by v2 (048); the release before reads with it "
    "while the next deploys",
    "cascadian_count_user_request_v1": "superseded by v2 (050, a sliding window); the release "
    "before counts with it while the next deploys",
    # The trading, trigger, bulk and audit reads scoped to a user (049).
    "cascadian_paper_portfolio_v2": "cascadian_paper_portfolio_v3 answers with it",
    "cascadian_trading_orders_v1": "cascadian_trading_orders_v2 answers with it",
    "cascadian_equity_curve_v2": "cascadian_equity_curve_v3 (049) answers with it",
    "cascadian_triggers_v1": "cascadian_triggers_v2 and cascadian_set_triggers_v1 answer with it",
    "cascadian_trigger_events_v1": "cascadian_trigger_events_v2 answers with it",
    "cascadian_trigger_overview_v2": "cascadian_trigger_overview_v3 answers the operator with it",
    "cascadian_bulk_selection_v1": "cascadian_bulk_selection_v2 answers with it",
    "cascadian_kill_switches_v1": "superseded by v2 (049); the release before reads with it "
    "while the next deploys",
    "cascadian_audit_log_v1": "superseded by v2 (049); the release before reads with it "
    "while the next deploys",
    # The lease in cascadian_leases (052): its helpers, and the versions before it, kept
    # to roll back to the release before (which must not run beside this one: it
    # reads and writes the session's lease columns), until a drop migration.
    "cascadian_lock_lease_v1": "052's control functions and manual claims lock a lease with it",
    "cascadian_finish_runs_v5": "cascadian_finish_runs_v6 falls back to it for a refused batch",
    "cascadian_fair_picks_v2": "cascadian_claim_due_v5 and v6 choose their strategies with it",
    "cascadian_backlog_v1": "cascadian_metrics_v1 reads it (the release before 052)",
    "cascadian_claim_due_v4": "the release before 052's; superseded there",
    "cascadian_finish_runs_v4": "the release before 052's; superseded there",
    "cascadian_claim_manual_v4": "the release before 052's; superseded there",
    "cascadian_claim_rerun_v2": "the release before 052's; superseded there",
    "cascadian_claim_events_v1": "the release before 052's; superseded there",
    "cascadian_claim_events_v2": "superseded by v3 (058); the release before claims events "
    "with it while the next deploys",
    "cascadian_cancel_runs_v1": "the release before 052's; superseded there",
    "cascadian_release_runs_v1": "the release before 052's; superseded there",
    "cascadian_next_due_v1": "the release before 052's; superseded there",
    "cascadian_prune_v1": "the release before 052's; superseded there",
    "cascadian_start_v4": "the release before 052's; superseded there",
    "cascadian_resume_v4": "the release before 052's; superseded there",
    "cascadian_update_strategy_v2": "the release before 052's; superseded there",
    "cascadian_new_version_v2": "the release before 052's; superseded there",
    "cascadian_strategies_v2": "the release before 052's; superseded there",
    "cascadian_strategy_v2": "the release before 052's; superseded there",
    "cascadian_list_strategies_v2": "the release before 052's; superseded there",
    "cascadian_console_overview_v1": "the release before 052's; superseded there",
    "cascadian_console_strategies_v1": "the release before 052's; superseded there",
    "cascadian_metrics_v1": "the release before 052's; superseded there",
    "cascadian_claim_due_v5": "superseded by v6 (060); the release before claims with it "
    "while the next deploys",
    # 062: a lease locked only when needed.
    "cascadian_claim_events_v3": "superseded by v4 (062); the release before claims events "
    "with it while the next deploys",
    "cascadian_may_change_v1": "062's control functions ask it before any lock",
    "cascadian_start_v5": "cascadian_start_v6 (062) calls it once the caller may",
    "cascadian_resume_v5": "cascadian_resume_v6 (062) calls it once the caller may",
    "cascadian_update_strategy_v3": "cascadian_update_strategy_v4 (062) calls it once the "
    "caller may",
    "cascadian_new_version_v3": "cascadian_new_version_v4 (062) calls it once the caller may",
    # 063: a deleted strategy's lease, and a re-run's slot.
    "cascadian_forget_lease_v1": "063's trigger on workflow_sessions runs it (an insert)",
    "cascadian_claim_rerun_v3": "superseded by v4 (063); the release before re-runs with it "
    "while the next deploys",
    "cascadian_metrics_v2": "superseded by v3 (063); the release before reads its gauges "
    "with it while the next deploys",
    "cascadian_prune_v2": "superseded by v3 (063); the release before prunes with it "
    "while the next deploys",
    "cascadian_new_version_v4": "cascadian_new_version_v5 (066) calls it, then carries the book",
}
# Named although dropped: a benchmark installs it, from its migration, as its before.
MEASURED_BEFORE = {"cascadian_claim_due_v2": "bench/claim_stale.py"}


def names_in(*folders: str) -> dict[str, set[str]]:
    """Each function name written in the folders' Python files (but this one), with where."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if path == Path(__file__).resolve():
                continue
            for name in FUNCTION_NAME.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return found


def functions(db: psycopg.Connection[Any]) -> set[str]:
    """Ours (an existing deployment has the app's own functions too)."""
    query = (
        "select proname from pg_proc "
        "where pronamespace = 'public'::regnamespace and proname like 'cascadian\\_%'"
    )
    return {name for (name,) in db.execute(query).fetchall()}


@pytest.mark.both_schemas
def test_every_function_the_code_names_exists_after_migrating(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    named = names_in("cascadian", "api", "tests", "bench")
    missing = {name: sorted(where) for name, where in named.items() if name not in functions(db)}
    assert missing == {name: [where] for name, where in MEASURED_BEFORE.items()}


@pytest.mark.both_schemas
def test_no_function_is_left_that_neither_the_code_nor_another_function_calls(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    called = set(names_in("cascadian", "api"))
    assert functions(db) - called == set(KEPT)


@pytest.mark.both_schemas
def test_no_function_policy_or_default_names_a_function_that_is_gone(
    schema: str, db: psycopg.Connection[Any]
) -> None:
    # A PL/pgSQL body's calls are not dependencies PostgreSQL tracks: a function
    # that called a dropped one would fail only when it ran.
    existing = functions(db)
    mentioned = {
        (part.kind, part.name, name)
        for part in describe(db)
        for name in FUNCTION_NAME.findall(part.text)
    }
    assert {m for m in mentioned if m[2] not in existing} == set()


def test_each_function_021_drops_existed_with_that_signature_and_is_gone(
    admin_url: str, tmp_path: Path
) -> None:
    drops = [f"{name}({' '.join(args.split())})" for name, args in DROP.findall(DROPS.read_text())]
    assert len(drops) == 12
    for migration in sorted(SOURCE_MIGRATIONS.glob("*.sql")):
        if migration.name < DROPS.name:
            shutil.copy(migration, tmp_path / migration.name)
    with scratch_database(admin_url, "cascadian_drop_test") as url:
        migrate(url, tmp_path)
        before = existing_signatures(url, drops)
        assert migrate(url)[0] == DROPS.name  # then any later ones
        after = existing_signatures(url, drops)
    assert (before, after) == (set(drops), set())


def existing_signatures(url: str, signatures: list[str]) -> set[str]:
    with psycopg.connect(url) as conn:
        query = "select to_regprocedure(%s) is not null"
        return {s for s in signatures if conn.execute(query, (s,)).fetchone() == (True,)}
