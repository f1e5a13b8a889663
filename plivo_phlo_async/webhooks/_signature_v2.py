"""Plivo's V2 webhook signature (``X-Plivo-Signature-V2``), as every official SDK computes it.

The reference is ``validate_signature`` in ``plivo/utils/__init__.py`` of the
official Python SDK (plivo-go ``ComputeSignatureV2`` in ``utils.go``,
plivo-java ``Utils.computeSignature``, plivo-node ``validateSignature`` in
``lib/utils/security.js`` compute the same): HMAC-SHA256, keyed with the auth
token, of the URL's scheme, host and path (no query, no fragment) followed
by ``X-Plivo-Signature-V2-Nonce``, base64.

V2 covers neither the query nor the parameters: whoever holds one signed
request can send other parameters with its nonce and signature. Check V3
when the request carries it.

Departures, as for V3: non-ASCII in the URL is signed as UTF-8 instead of
raising; a header with several comma-separated signatures passes when one
matches (the official code compares the whole header); and
:func:`verify_signature_v2` never raises on what came with the request.
"""

from __future__ import annotations

from .._exceptions import InvalidParameterError
from ._signature import _check_nonce, _check_token, _digest, _matches, _split_url

__all__ = ["NONCE_V2_HEADER", "SIGNATURE_V2_HEADER", "sign_v2", "verify_signature_v2"]

#: The header holding the V2 signature.
SIGNATURE_V2_HEADER = "X-Plivo-Signature-V2"
#: The header holding the nonce the V2 signature covers.
NONCE_V2_HEADER = "X-Plivo-Signature-V2-Nonce"


def _expected(token: bytes, url: object, nonce: object) -> bytes:
    base, _query = _split_url(url)
    return _digest(token, base + _check_nonce(nonce))


def sign_v2(*, url: str, nonce: str, auth_token: str) -> str:
    """The ``X-Plivo-Signature-V2`` value Plivo sends for a request to ``url``.

    For tests: bad arguments raise :class:`~plivo_phlo_async.InvalidParameterError`.
    """
    return _expected(_check_token(auth_token), url, nonce).decode()


def verify_signature_v2(
    *, url: str, nonce: str | None, signature: str | None, auth_token: str
) -> bool:
    """Whether ``signature`` (the ``X-Plivo-Signature-V2`` header) is Plivo's.

    ``url`` is the URL as Plivo requested it (behind a proxy: the public
    one); only its scheme, host and path are signed. Compared in constant
    time. As :func:`~plivo_phlo_async.webhooks.verify_signature_v3`: only a
    wrong ``auth_token`` raises (:class:`~plivo_phlo_async.InvalidParameterError`);
    anything wrong with the rest is False.
    """
    token = _check_token(auth_token)
    try:
        expected = _expected(token, url, nonce)
    except InvalidParameterError:
        return False
    return _matches(expected, signature)
