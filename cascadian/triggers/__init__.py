"""Triggers: strategies that wake on the market, not only on the clock.

A trigger (definitions.py) watches a token's price against a level, or a market for
its resolution. Whoever sees prices hands them to the store, which keeps every
trigger's state and writes each crossing once (migrations/028): a tick, from the
CLOB's REST prices (prices.py, service.py), or a worker's market-channel WebSocket
(feed.py, listener.py). An event becomes a run through the tick's own claim, run and
record (runner.py for a worker). docs/triggers.md says what each tier guarantees.
"""
