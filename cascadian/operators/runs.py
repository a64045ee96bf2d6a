"""The runs list across strategies: every run, filtered by status, strategy,
owner, trigger and a time window, newest first, paged by key.

A page ends with a cursor (the key of its last run) that the next request passes
back, so a page deep in a million runs costs what the first does; there is no
total, which would count every match. The query is one read-only SQL function
(migrations/026), whose indexes are measured in docs/performance.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from uuid import UUID

from cascadian.data import RunCursor, RunPage, RunQuery
from cascadian.errors import InvalidInput
from cascadian.ports import OperatorStore

STATUSES = ("running", "completed", "failed", "cancelled")
# An open set (scheduled, manual, rerun, and the kinds triggers add): one short
# word, as the database's check says.
TRIGGER = re.compile(r"[a-z][a-z_-]{0,31}")
MAX_LIMIT = 200


def cursor_text(cursor: RunCursor) -> str:
    """The cursor as an opaque, URL-safe token."""
    raw = f"{cursor.started_at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(text: str) -> RunCursor:
    """A token cursor_text made; InvalidInput for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, _, run_id = raw.partition("|")
        started = datetime.fromisoformat(at)
        if started.tzinfo is None:
            raise ValueError("no time zone")
        return RunCursor(started, UUID(run_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(f"the cursor {text[:40]!r} is not one a page of runs answered") from None


def check(query: RunQuery) -> None:
    """InvalidInput naming the first filter that cannot be used."""
    if query.status is not None and query.status not in STATUSES:
        raise InvalidInput(f"unknown status {query.status[:40]!r}; one of {', '.join(STATUSES)}")
    if query.trigger is not None and not TRIGGER.fullmatch(query.trigger):
        raise InvalidInput(
            f"a trigger is one lowercase word (scheduled, manual, rerun, ...), "
            f"not {query.trigger[:40]!r}"
        )
    for name, at in (("since", query.since), ("until", query.until)):
        if at is not None and at.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-12-07T18:00:00Z")
    if query.since and query.until and query.since >= query.until:
        raise InvalidInput("since must be before until")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}, not {query.limit}")


class RunsService:
    def __init__(self, store: OperatorStore) -> None:
        self.store = store

    async def runs(self, query: RunQuery) -> RunPage:
        """A page of runs matching `query`, newest first; InvalidInput for a
        filter that cannot be used."""
        check(query)
        return await self.store.runs(query)
