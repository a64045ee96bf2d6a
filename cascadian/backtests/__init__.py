"""Backtests: the same graph run over recorded history, in simulated time, with no
look-ahead and no side effects (docs/backtests.md).

    recording.py   the recorded history: what the live ticks fetched, written after them
    public.py      Polymarket's public price history (CLOB /prices-history), imported
    history.py     a window's history read in time order, applied up to the slot
    markets.py     the market nodes see at a slot (the live market data's calls)
    book.py        the backtest's in-memory paper book: the same fills, cash, settlement
    lookahead.py   which nodes would read what the history does not have at t
    results.py     ROI, P&L, win rate, profit factor, drawdown, Sharpe, the equity curve
    runner.py      every slot of the schedule: bounded, cancellable, progress, sweeps
    service.py     a saved strategy or a posted graph, for the CLI and the API
"""
