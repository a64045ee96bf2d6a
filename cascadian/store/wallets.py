"""Wallet metrics (the WalletStore port): claimed, read while fresh, written once per
upstream read (migrations/030), shared by every strategy and worker on this database.

The metrics cross as the JSON they are stored as (the original's field names,
numbers as decimal strings); workflow/wallets/metrics.py reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cascadian.data import WalletClaim
from cascadian.store.readers import answer_of, json_value
from cascadian.store.transport import Json, Transport

# migrations/030: the wallet metrics cache.
CLAIM_WALLET_METRICS = "cascadian_claim_wallet_metrics_v1"
PUT_WALLET_METRICS = "cascadian_put_wallet_metrics_v1"
RELEASE_WALLET_METRICS = "cascadian_release_wallet_metrics_v1"


class SqlWalletStore:
    transport: Transport

    async def claim_wallet_metrics(
        self, wallets: Sequence[str], max_age_seconds: float, lease_seconds: float, now: datetime
    ) -> WalletClaim:
        if not wallets:
            return WalletClaim({}, [], [])
        answer = await self.transport.value(
            CLAIM_WALLET_METRICS,
            {
                "p_wallets": sorted({w.lower() for w in wallets}),
                "p_max_age_seconds": float(max_age_seconds),
                "p_lease_seconds": float(lease_seconds),
                "p_now": now,
            },
        )
        return wallet_claim(answer)

    async def put_wallet_metrics(
        self, metrics: Mapping[str, Mapping[str, Any]], fetched_at: datetime
    ) -> int:
        if not metrics:
            return 0
        rows = [
            {"wallet": wallet.lower(), "metrics": dict(m), "fetched_at": fetched_at.isoformat()}
            for wallet, m in metrics.items()
        ]
        return int(await self.transport.value(PUT_WALLET_METRICS, {"p": Json(rows)}))

    async def release_wallet_metrics(self, wallets: Sequence[str]) -> int:
        if not wallets:
            return 0
        args = {"p_wallets": sorted({w.lower() for w in wallets})}
        return int(await self.transport.value(RELEASE_WALLET_METRICS, args))


@answer_of(CLAIM_WALLET_METRICS)
def wallet_claim(value: Any) -> WalletClaim:
    answer = json_value(value)
    fresh: dict[str, dict[str, Any]] = {}
    for row in answer["fresh"]:
        metrics = row["metrics"]
        if not isinstance(metrics, dict):
            raise TypeError("metrics is not an object")
        fresh[str(row["wallet"])] = metrics
    return WalletClaim(fresh, [str(w) for w in answer["claimed"]], [str(w) for w in answer["busy"]])
