"""Outgoing HTTP, made safe: what config, the alerts and the workflow engine all use
to reach a URL they were given, so none of them reaches into another for it.

    allowlist.py  the operator's allow-list (CASCADIAN_HTTP_ALLOWLIST), parsed
    ssrf.py       the SSRF guard: refuse private targets, pin the checked address
    retry.py      backoff with jitter inside a deadline (on tenacity)
    body.py       a response body read with its decoded size capped, by a deadline
    tls.py        one TLS context that every outgoing client shares

It imports nothing of the engine, and its errors have their own root
(errors.OutboundError): a failed alert is not a node's error. A node passes one on
as a NodeError with the same message (see nodes/http_request.fetch).
"""
