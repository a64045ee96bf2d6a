"""Outgoing HTTP, made safe: what config, the alerts and the workflow engine all use
to reach a URL they were given, so none of them reaches into another for it.

    allowlist.py  the operator's allow-list (CASCADIAN_HTTP_ALLOWLIST), parsed
    ssrf.py       the SSRF guard: refuse private targets, pin the checked address
    retry.py      backoff with jitter inside a deadline (on tenacity)
    body.py       a response body read with its decoded size capped, by a deadline

It imports nothing of the engine.
"""
