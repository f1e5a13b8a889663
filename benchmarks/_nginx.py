"""A local nginx answering canned PHLO JSON: the server for throughput figures.

nginx is started as a non-daemon child with a generated configuration in a
temporary directory, listens on a free loopback port with keep-alive on, and
is stopped when the context exits. With ``tls=True`` it serves the same
answers over HTTPS with a certificate made at start (see ``_certs``). It logs
one line per connection (only a connection's first request), so a benchmark
can tell keep-alive from reconnecting, and over TLS count the handshakes,
without the cost of a line per request. Nothing is installed here: if nginx
is missing the caller gets a clear message with the apt line.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._certs import make_certificates

INSTALL_HINT = "sudo apt-get update && sudo apt-get install -y nginx-light"

#: 201 for every POST (run, node and member actions, calls).
POST_BODY = '{"api_id":"bench-0000-4000-8000-000000000001","error":"","message":"ok"}'
#: 200 for every GET: carries the fields of a PHLO and of a multi-party-call node,
#: so both the official SDK's GETs and this SDK's models accept it.
GET_BODY = (
    '{"api_id":"bench-0000-4000-8000-000000000002","phlo_id":"phlo-1","node_id":"node-1",'
    '"name":"bench","node_type":"multi_party_call","created_on":"2024-01-01 00:00:00+00:00"}'
)

_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    # One line per connection: its first request ("r" when a TLS session was resumed).
    log_format connections '$connection $ssl_session_reused';
    map $connection_requests $first_request {{
        1       1;
        default 0;
    }}
    access_log {tmp}/connections.log connections if=$first_request;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 10000000;
    default_type application/json;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port}{ssl} backlog=4096;
{tls}        location / {{
            if ($request_method = POST) {{
                return 201 '{post}';
            }}
            return 200 '{get}';
        }}
    }}
}}
"""


_TLS_CONFIG = """\
        ssl_certificate {chain};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
"""


@dataclass(frozen=True)
class Server:
    """A running nginx: its base URL, the CA to trust (TLS only) and its connection log."""

    url: str
    ca_file: Path | None
    connection_log: Path

    def connections(self) -> tuple[int, int]:
        """Connections opened so far, and how many of them resumed a TLS session."""
        lines = self.connection_log.read_text().splitlines()
        return len(lines), sum(line.endswith(" r") for line in lines)


def find_nginx() -> str:
    """The nginx binary, or a SystemExit telling how to install it."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if path is None:
        raise SystemExit(
            "nginx is needed as the local server for throughput figures (the Python "
            f"emulator is far too slow). Install it with:\n    {INSTALL_HINT}"
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited at start-up:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start listening within 10 s")


@contextlib.contextmanager
def nginx_server() -> Iterator[str]:
    """Run nginx over plain HTTP; yield its base URL (``http://127.0.0.1:N``)."""
    with nginx() as server:
        yield server.url


@contextlib.contextmanager
def nginx(*, tls: bool = False) -> Iterator[Server]:
    """Run nginx on a free loopback port, over HTTPS if ``tls``; yield the :class:`Server`."""
    binary = find_nginx()
    with tempfile.TemporaryDirectory(prefix="phlo-bench-nginx-") as tmp:
        port = _free_port()
        ca_file, tls_config = None, ""
        if tls:
            certs = make_certificates(Path(tmp) / "certs")
            ca_file, tls_config = certs.ca, _TLS_CONFIG.format(chain=certs.chain, key=certs.key)
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(
            _CONFIG.format(
                tmp=tmp,
                port=port,
                post=POST_BODY,
                get=GET_BODY,
                ssl=" ssl" if tls else "",
                tls=tls_config,
            )
        )
        log = Path(tmp) / "error.log"
        connection_log = Path(tmp) / "connections.log"
        connection_log.touch()
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own config
            [binary, "-p", tmp, "-c", str(conf), "-e", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_listening(port, proc, log)
            scheme = "https" if tls else "http"
            yield Server(f"{scheme}://127.0.0.1:{port}", ca_file, connection_log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
