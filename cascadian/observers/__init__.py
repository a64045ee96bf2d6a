"""Those who watch the tick: this process's metrics and the operators' alerts.

metrics.py  Prometheus metrics: the database's gauges and this process's counters
alerts.py   the operators' alert webhook: auto-pauses, failing ticks, retried
"""
