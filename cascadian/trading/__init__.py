"""What strategies do to markets: the paper book (simulated orders, valued at live
prices) and the trading book (fills, cash, limits, a kill switch; issue 28).

    paper.py     a strategy's paper book, valued at live prices
    fills.py     a paper order's fill against the CLOB's book, with the taker fee
    executor.py  the paper OrderExecutor: fill, then record once with limits checked
    marking.py   the tick's bookkeeping: settle resolved markets, mark the rest
    equity.py    a portfolio's equity curve and its value at the stored marks
    amounts.py   the bounds of a backtest's bankroll and fee rate, defined once
"""
