"""The store: one object over one transport, composed from the port modules.

Each port's calls live in its own module (runs.py for the tick, audit.py,
node_writes.py, control.py, strategies.py, console.py, trading.py, marks.py,
market_history.py, wallets.py, copy_trading.py, decisions.py, operators.py, triggers.py, quotas.py),
which names each SQL function it calls once, with its named arguments and the mapping
of its answer. One class serves both back ends: the transport under it (psycopg, or
PostgREST's `.rpc()` for Supabase) only moves the call, so the two cannot drift apart.
Each function is one transaction in the database; nothing here reads a row and writes
it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from cascadian.store.audit import SqlAuditStore
from cascadian.store.console import SqlConsoleStore
from cascadian.store.control import SqlControlStore
from cascadian.store.copy_trading import SqlCopyTradeStore
from cascadian.store.decisions import SqlDecisionStore
from cascadian.store.market_history import SqlMarketHistoryStore
from cascadian.store.marks import SqlMarkStore
from cascadian.store.node_writes import SqlNodeStore
from cascadian.store.operators import SqlOperatorStore
from cascadian.store.quotas import SqlQuotaStore
from cascadian.store.runs import SqlRunStore
from cascadian.store.strategies import SqlStrategyStore
from cascadian.store.trading import SqlTradingStore
from cascadian.store.transport import Transport
from cascadian.store.triggers import SqlTriggerStore
from cascadian.store.wallets import SqlWalletStore

if TYPE_CHECKING:
    from cascadian.ports import FullStore


class SqlStore(
    SqlRunStore,
    SqlAuditStore,
    SqlNodeStore,
    SqlControlStore,
    SqlStrategyStore,
    SqlConsoleStore,
    SqlTradingStore,
    SqlMarkStore,
    SqlMarketHistoryStore,
    SqlWalletStore,
    SqlCopyTradeStore,
    SqlDecisionStore,
    SqlOperatorStore,
    SqlTriggerStore,
    SqlQuotaStore,
):
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def postgres(cls, conninfo: str, *, pool_size: int = 10, timeout: float = 5.0) -> SqlStore:
        """The store on PostgreSQL through psycopg; `open()` it before use."""
        from cascadian.store.psycopg_transport import PsycopgTransport

        return cls(PsycopgTransport(conninfo, pool_size=pool_size, timeout=timeout))

    @classmethod
    async def supabase(
        cls,
        url: str,
        key: str,
        *,
        request_timeout: httpx.Timeout | float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> SqlStore:
        """The store on Supabase through PostgREST (`transport` replaces the network)."""
        from cascadian.store.postgrest_transport import PostgrestTransport

        return cls(
            await PostgrestTransport.connect(
                url, key, request_timeout=request_timeout, transport=transport
            )
        )

    async def open(self) -> None:
        await self.transport.open()

    async def ping(self) -> None:
        await self.transport.ping()

    async def close(self) -> None:
        await self.transport.close()


if TYPE_CHECKING:

    def _implements(store: SqlStore) -> FullStore:
        """The ports this store implements, checked by mypy."""
        return store
