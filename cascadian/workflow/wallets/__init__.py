"""Polymarket's public Data API: wallets, their metrics, holders and trades, for the
original builder's wallet nodes (workflow/original/nodes/).

    records.py   its answers as our records: exact money, v1 and v2 field names
    client.py    the routes: leaderboard (cursor-paged, capped), closed positions,
                 holders, trades; rate-limited per route family, retried, capped
    metrics.py   a wallet's metrics in the original's field names, from closed positions
    owrr.py      OWRR, the original's smart-money signal, from holders and metrics
    service.py   WalletData: the above, built once per process, metrics shared
                 through the database with a TTL
"""

from cascadian.workflow.wallets.client import Universe, UniverseTooLarge
from cascadian.workflow.wallets.metrics import WalletMetrics
from cascadian.workflow.wallets.service import WalletData

__all__ = ["Universe", "UniverseTooLarge", "WalletData", "WalletMetrics"]
