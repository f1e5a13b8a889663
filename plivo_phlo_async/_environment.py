"""What a client takes from the process environment besides its own variables.

httpx reads proxies (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, either
case) and the CA certificates (``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else
certifi's bundle) when a client is built. Left to httpx, a broken setting is a
raw ``ImportError``, ``ValueError`` or ``OSError`` from ``PhloClient()``, or, for
a proxy URL httpx parses but cannot use (``http://[``), a DNS error naming the
wrong host at every request. Here each is a :class:`ConfigurationError` naming
the argument or the variable, raised before anything is sent.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import ssl
import urllib.request

import httpx

from ._exceptions import ConfigurationError

_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
#: A host as httpx leaves it (IDNA-encoded): a percent escape means it was no host name.
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
#: Causes that pass by themselves: the process is short of descriptors or memory
#: right now; the certificates are not to blame.
_TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


def _proxy_problem(proxy: object) -> str | None:
    """What makes ``proxy`` (a URL or an ``httpx.Proxy``) unusable, or None.

    The URL itself is never quoted: it may carry the proxy's password.
    """
    if isinstance(proxy, httpx.Proxy):
        url = proxy.url
    elif isinstance(proxy, (str, httpx.URL)):
        try:
            url = httpx.URL(proxy)
        except httpx.InvalidURL:
            return "is not a valid URL"
    else:
        return f"must be a URL (str or httpx.URL) or an httpx.Proxy, not {type(proxy).__name__}"
    if url.scheme not in _PROXY_SCHEMES:
        return "must be an http://, https://, socks5:// or socks5h:// URL"
    host = url.raw_host.decode("ascii", "replace")
    if not _HOST.fullmatch(host):
        return "must name a host"
    if url.port is not None and not 0 < url.port < 65536:
        return "has a port outside 1-65535"
    if url.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        return "is a SOCKS proxy, which needs the socksio package: pip install 'httpx[socks]'"
    return None


def check_proxy(proxy: object) -> None:
    """Refuse a ``proxy=`` argument httpx would fail on, now or at every request."""
    problem = _proxy_problem(proxy)
    if problem is not None:
        raise ConfigurationError(f"proxy {problem}", field="proxy")


def check_environment_proxies() -> None:
    """Refuse a proxy from the environment that httpx would fail on, naming its variable.

    The proxies are read as httpx reads them (``urllib.request.getproxies``; a
    value without a scheme is http; ``NO_PROXY=*`` turns them all off).
    """
    found = urllib.request.getproxies()
    if "*" in (host.strip() for host in found.get("no", "").split(",")):
        return
    for scheme in ("http", "https", "all"):
        value = found.get(scheme)
        if not value:
            continue
        problem = _proxy_problem(value if "://" in value else f"http://{value}")
        if problem is not None:
            name = next(
                (
                    key
                    for key, setting in os.environ.items()
                    if key.lower() == f"{scheme}_proxy" and setting == value
                ),
                f"the system's {scheme} proxy setting",
            )
            raise ConfigurationError(f"the proxy in {name} {problem}", field=name)


def check_ca_directory() -> None:
    """Refuse an ``SSL_CERT_DIR`` (used when ``SSL_CERT_FILE`` is not set) that names
    no directory: OpenSSL reads it only during each handshake, so every https
    request would fail with a certificate error instead."""
    if os.environ.get("SSL_CERT_FILE"):
        return
    value = os.environ.get("SSL_CERT_DIR")
    if value and not any(os.path.isdir(path) for path in value.split(os.pathsep)):
        raise ConfigurationError(
            f"SSL_CERT_DIR={value!r} names no directory of CA certificates",
            field="SSL_CERT_DIR",
        )


def ca_error(error: OSError) -> ConfigurationError | None:
    """The error for CA certificates that cannot be loaded, naming the variable they
    come from; None when the cause is transient (no free descriptor or memory)."""
    if not isinstance(error, ssl.SSLError) and error.errno in _TRANSIENT:
        return None
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):  # httpx's order
        value = os.environ.get(name)
        if value:
            return ConfigurationError(
                f"cannot load the CA certificates of {name}={value!r}: {error}", field=name
            )
    return ConfigurationError(f"cannot load the CA certificates (certifi's bundle): {error}")
