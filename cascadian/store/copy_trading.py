"""Copy trading (the CopyTradeStore port, migrations/038): cursors, every source trade
recorded once, each consensus triggered once, the copies owed.

The copies' paper orders go through the trading book (store/trading.py) with the
trigger's order key, which makes each one order, whatever is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.data import CopyObservation, OwedCopy, SourceTrade
from cascadian.store.readers import answer_of, json_value
from cascadian.store.transport import Json, Transport

# migrations/038: copy trading.
COPY_TRADE_CURSORS = "cascadian_copy_trade_cursors_v1"
OBSERVE_COPY_TRADES = "cascadian_copy_trade_observe_v1"


class SqlCopyTradeStore:
    transport: Transport

    async def copy_trade_cursors(
        self, workflow_id: UUID, node_id: str, wallets: Sequence[str]
    ) -> dict[str, int]:
        answer = await self.transport.value(
            COPY_TRADE_CURSORS,
            {"p_workflow_id": workflow_id, "p_node_id": node_id, "p_wallets": list(wallets)},
        )
        return cursors(answer)

    async def observe_copy_trades(
        self,
        workflow_id: UUID,
        node_id: str,
        wallets: Sequence[str],
        trades: Sequence[SourceTrade],
        required: int | None,
        now: datetime,
    ) -> CopyObservation:
        records = [
            {
                "trade_key": t.trade_key,
                "wallet": t.wallet,
                "consensus_key": t.consensus_key,
                "traded_at": t.traded_at,
                "eligible": t.eligible,
                "trade": t.trade,
            }
            for t in trades
        ]
        answer = await self.transport.value(
            OBSERVE_COPY_TRADES,
            {
                "p_workflow_id": workflow_id,
                "p_node_id": node_id,
                "p_wallets": list(wallets),
                "p_trades": Json(records),
                "p_required": required,
                "p_read_at": int(now.timestamp()),
                "p_now": now,
            },
        )
        return observation(answer)


@answer_of(COPY_TRADE_CURSORS)
def cursors(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in json_value(value).items()}


@answer_of(OBSERVE_COPY_TRADES)
def observation(value: Any) -> CopyObservation:
    answer = json_value(value)
    owed = [
        OwedCopy(
            str(o["consensus_key"]),
            str(o["order_key"]),
            dict(o["trade"]),
            [str(w) for w in o["wallets"]],
        )
        for o in answer["owed"]
    ]
    return CopyObservation([str(k) for k in answer["new"]], owed)
