"""Each signed-in user's share of the API (the QuotaStore port): requests counted over
a sliding minute (migrations/050), and work in flight (dry runs, backtests) held as
expiring slots (031), each one SQL function call, checked where it is written,
under a lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.store.readers import answer_of
from cascadian.store.transport import Transport

COUNT_REQUEST = "cascadian_count_user_request_v2"
TAKE_SLOT = "cascadian_take_user_slot_v1"
GIVE_SLOT = "cascadian_give_user_slot_v1"


class SqlQuotaStore:
    transport: Transport

    async def count_request(self, user: UUID, now: datetime, limit: int) -> int:
        answer = await self.transport.value(
            COUNT_REQUEST, {"p_user": user, "p_now": now, "p_limit": limit}
        )
        return retry_after(answer)

    async def take_slot(
        self, user: UUID, kind: str, most: int, now: datetime, seconds: float
    ) -> UUID | None:
        answer = await self.transport.value(
            TAKE_SLOT,
            {"p_user": user, "p_kind": kind, "p_max": most, "p_now": now, "p_seconds": seconds},
        )
        return None if answer is None else slot_id(answer)

    async def give_slot(self, slot: UUID) -> None:
        await self.transport.value(GIVE_SLOT, {"p_id": slot})


@answer_of(COUNT_REQUEST)
def retry_after(value: Any) -> int:
    return int(value)


@answer_of(TAKE_SLOT)
def slot_id(value: Any) -> UUID:
    return UUID(str(value))
