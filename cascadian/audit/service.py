"""Reading the audit log, for the API (web/audit.py), `cascadian audit` and the
console.

The log is written by the changes themselves, in SQL, in each change's own
transaction (migrations/027): nothing here writes it. Pages are keyset pages,
newest first: a page's `next` cursor, as an opaque token, asks for what is older,
so paging deep into a long log costs what the first page does and an entry
written meanwhile never shifts a page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from cascadian.data import Actor, AuditCursor, AuditPage, AuditQuery, scope
from cascadian.ports import AuditStore

MAX_LIMIT = 200


class BadCursor(ValueError):
    """A page token that is not one this service gave."""


def cursor_token(cursor: AuditCursor) -> str:
    """The cursor as a URL-safe token."""
    raw = f"{cursor.at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(token: str) -> AuditCursor:
    """BadCursor for anything `cursor_token` did not make."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        at, _, entry_id = raw.partition("|")
        cursor = AuditCursor(datetime.fromisoformat(at), int(entry_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("the page cursor is not one this API gave") from exc
    if cursor.at.tzinfo is None or cursor.id < 1:
        raise BadCursor("the page cursor is not one this API gave")
    return cursor


class AuditService:
    def __init__(self, store: AuditStore) -> None:
        self.store = store

    async def entries(self, query: AuditQuery, actor: Actor | None = None) -> AuditPage:
        """A page of the entries `query` picks, newest first (at most MAX_LIMIT); a
        user `actor` sees only those they made or about their own strategies."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if query.since and query.until and query.since >= query.until:
            return AuditPage([], None)
        return await self.store.audit_log(query, scope(actor))
