"""The network layer under the SDK's requests: the fast path and the seam to httpx.

Why a fast path of our own: httpcore's pool does O(requests x connections)
work on every state change, so 64 requests in flight run ~25x slower than raw
aiohttp (``benchmarks/``); and ``httpx.AsyncClient`` over aiohttp reaches only
~0.4x of raw aiohttp. This lean HTTP/1.1 keep-alive client on asyncio
protocols builds no httpx objects for a successful answer and knows whether a
byte of the request was written, so "never sent" and "maybe sent" are told
apart exactly as the retry table requires.

Layers, each its own module:

* :mod:`._reader`: an I/O-free HTTP/1.1 response reader (bytes in, events out);
* :mod:`._connection`: one connection as an asyncio protocol (timers, drain, TLS over memory BIOs);
* :mod:`._pool`: connections per origin, slots, reuse checks, lifecycle;
* :mod:`._answer`: the answer both paths return, and body decoding;
* :mod:`._sender`: the seam choosing the fast path or httpx per request;
* :mod:`._transport`: the pool as an httpx transport (:class:`FastTransport`).
"""

from ._answer import Answer
from ._pool import KEEPALIVE_EXPIRY, FastPool
from ._sender import Sender, httpx_is_patched, proxy_in_environment
from ._transport import FastTransport

__all__ = [
    "KEEPALIVE_EXPIRY",
    "Answer",
    "FastPool",
    "FastTransport",
    "Sender",
    "httpx_is_patched",
    "proxy_in_environment",
]
