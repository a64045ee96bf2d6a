"""The audit log's side of the store (the AuditStore port): the actor as every change
function takes it (migrations/027), so each change is written down, and scoped to a
user's own strategies, in the change's own transaction; and the log read a page at
a time and pruned by its retention (035).

Each SQL function read or pruned through here is named once, as a constant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import Actor, AuditCursor, AuditEntry, AuditPage, AuditQuery
from cascadian.store.readers import answer_of, as_dt, json_value, uuid_or_none
from cascadian.store.storable import iso
from cascadian.store.transport import Json, Transport

AUDIT_LOG = "cascadian_audit_log_v2"  # 049: scoped to p_user
PRUNE_AUDIT = "cascadian_prune_audit_v1"


def actor_arg(actor: Actor) -> Json:
    """`p_actor`, the jsonb argument each change function takes last."""
    return Json(
        {
            "kind": actor.kind,
            "user_id": None if actor.user_id is None else str(actor.user_id),
            "source": actor.source,
            "address": actor.address,
        }
    )


def query_record(query: AuditQuery) -> dict[str, Any]:
    """The query as the audit log function's p, asking one entry more than the page
    to learn whether another page follows."""
    return {
        "workflow_id": None if query.workflow_id is None else str(query.workflow_id),
        "actor_kind": query.actor_kind,
        "actor_user_id": None if query.user_id is None else str(query.user_id),
        "source": query.source,
        "action": query.action,
        "since": iso(query.since),
        "until": iso(query.until),
        "before_at": None if query.before is None else iso(query.before.at),
        "before_id": None if query.before is None else query.before.id,
        "limit": query.limit + 1,
    }


class SqlAuditStore:
    transport: Transport

    async def audit_log(self, query: AuditQuery, user: UUID | None = None) -> AuditPage:
        answer = await self.transport.value(
            AUDIT_LOG, {"p": Json(query_record(query)), "p_user": user}
        )
        return audit_page(answer, query.limit)

    async def prune_audit(self, before: datetime, max_rows: int, dry_run: bool) -> int:
        answer = await self.transport.value(
            PRUNE_AUDIT, {"p_before": before, "p_max_rows": max_rows, "p_dry_run": dry_run}
        )
        return int(answer)


@answer_of(AUDIT_LOG)
def audit_page(value: Any, limit: int) -> AuditPage:
    entries = [audit_entry(e) for e in json_value(value)]
    if len(entries) <= limit:
        return AuditPage(entries, None)
    last = entries[limit - 1]
    return AuditPage(entries[:limit], AuditCursor(last.at, last.id))


def audit_entry(e: dict[str, Any]) -> AuditEntry:
    before, after = json_value(e["before"]), json_value(e["after"])
    return AuditEntry(
        id=int(e["id"]),
        at=as_dt(e["at"]),
        actor=Actor(
            kind=e["actor_kind"],
            source=e["source"],
            user_id=uuid_or_none(e["actor_user_id"]),
            address=e["address"],
        ),
        action=e["action"],
        workflow_id=uuid_or_none(e["workflow_id"]),
        strategy_name=e["strategy_name"],
        before=before if isinstance(before, dict) else None,
        after=after if isinstance(after, dict) else {},
    )
