"""The cost of checking an UploadServerCertificate chain, by the chain's length.

Run: ``PYTHONPATH=src:tests .venv/bin/python bench/server_certificate_chain.py``.

Each certificate of a chain is parsed and one signature (ECDSA P-256 here) checked, so
the cost is linear in the chain: this prints the median of 5 checks per length, and the
cost per certificate, so that the request-body cap (512 KiB) can be read as a bound on
one request's CPU. No peer: moto does not check chains.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from selfiam.domain.server_certificates import parse_server_certificate
from support.server_certs import certificate, key_pem

NOW = datetime(2026, 11, 27, tzinfo=UTC)
RUNS = 5


def build(n: int) -> tuple[str, str, str]:
    """A leaf and a chain of ``n`` CAs, each signing the one below."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(n + 1)]
    certs = [certificate(keys[n], f"ca-{n}")]
    for i in range(n - 1, -1, -1):
        certs.append(certificate(keys[i], f"ca-{i}", issuer=(f"ca-{i + 1}", keys[i + 1])))
    certs.reverse()
    return certs[0], key_pem(keys[0]), "".join(certs[1:])


def main() -> None:
    for n in (1, 10, 100, 1000):
        body, key, chain = build(n)
        runs = []
        for _ in range(RUNS):
            start = time.perf_counter()
            parse_server_certificate(body, key, chain, NOW)
            runs.append(time.perf_counter() - start)
        median = statistics.median(runs)
        print(
            f"chain of {n:>4} certificates ({len(chain) / 1024:>4.0f} KiB): median "
            f"{median * 1000:7.1f} ms, {median * 1000 / n:.2f} ms per certificate"
        )


if __name__ == "__main__":
    main()
