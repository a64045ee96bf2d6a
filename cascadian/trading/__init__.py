"""What strategies do to markets: today the paper book (simulated orders, valued at
live prices); the trading book (fills, cash, limits, a kill switch) grows here.

    paper.py  a strategy's paper book, valued at live prices
"""
