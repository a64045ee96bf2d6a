"""The TLS context every outgoing client shares verifies as httpx's own default does."""

from __future__ import annotations

import ssl

from cascadian.outbound.tls import tls_context


def test_the_shared_context_verifies_certificates_and_host_names_against_a_ca_bundle() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0
    assert tls_context() is context
