"""A throw-away CA and a server certificate for 127.0.0.1/localhost, made at start.

The TLS benchmark keeps certificate verification on in every client, so the
server needs a certificate they can verify: a fresh CA (what clients trust,
through ``SSL_CERT_FILE``) and a leaf it signed. ``trustme`` makes them when
it is installed (the dev extra has it); otherwise the ``openssl`` CLI does,
with a minimal config of its own so the system's openssl.cnf cannot change
the extensions (Python 3.13's strict X.509 checks want them exact).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path  #: the CA certificate (PEM): the only file clients trust
    chain: Path  #: the server's certificate chain (PEM), for nginx
    key: Path  #: the server's private key (PEM), for nginx


def make_certificates(directory: Path, *, use_trustme: bool = True) -> Certificates:
    """A new CA and a leaf for ``127.0.0.1`` and ``localhost``, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    try:
        if not use_trustme:
            raise ImportError
        import trustme
    except ImportError:
        _with_openssl(directory, certs)
        return certs
    ca = trustme.CA(organization_name="plivo-phlo-async benchmark")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(certs.ca))
    leaf.private_key_pem.write_to_path(str(certs.key))
    certs.chain.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    return certs


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = plivo-phlo-async benchmark
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _with_openssl(directory: Path, certs: Certificates) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("TLS needs trustme (pip install trustme) or the openssl CLI")
    config = directory / "openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    ca_key, csr = directory / "ca.key", directory / "server.csr"
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    commands = [
        [
            "req",
            "-x509",
            "-config",
            config,
            "-extensions",
            "ca",
            *key,
            "-keyout",
            ca_key,
            "-out",
            certs.ca,
            "-days",
            "7",
            "-subj",
            "/CN=plivo-phlo-async benchmark CA",
        ],
        [
            "req",
            "-new",
            "-config",
            config,
            *key,
            "-keyout",
            certs.key,
            "-out",
            csr,
            "-subj",
            "/CN=localhost",
        ],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            certs.ca,
            "-CAkey",
            ca_key,
            "-set_serial",
            f"0x{secrets.token_hex(16)}",
            "-days",
            "7",
            "-extfile",
            config,
            "-extensions",
            "leaf",
            "-out",
            certs.chain,
        ],
    ]
    for command in commands:
        result = subprocess.run(  # noqa: S603 - the openssl CLI, fixed arguments
            [openssl, *map(str, command)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"openssl {command[0]} failed:\n{result.stderr}")
