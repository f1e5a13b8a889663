"""Verifying the callbacks Plivo sends to your ``answer_url``, ``hangup_url``...

Plivo signs every callback with ``X-Plivo-Signature-V3`` (HMAC-SHA256 of the
URL, the parameters and ``X-Plivo-Signature-V3-Nonce``, keyed with the auth
token). :func:`verify_signature_v3` checks one as Plivo's official SDKs do;
:func:`verify_signature_v2` checks the older ``X-Plivo-Signature-V2``, which
covers only the URL's path and its nonce. :class:`PlivoWebhook` and
:func:`verified_params` do it for a Starlette or FastAPI request and answer
403 when it does not match::

    from plivo_phlo_async.webhooks import PlivoWebhook

    webhook = PlivoWebhook(client=client, public_url="https://bot.example.com")

    @app.post("/answer")
    async def answer(params = Depends(webhook)): ...

The verification functions never raise on what came with the request (only
on a wrong ``auth_token``). The ASGI helpers need Starlette (the
``emulator`` extra); the rest of this module does not, and importing it
never loads Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._signature import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    ParamValue,
    sign_v3,
    signed_text_v3,
    verify_signature_v3,
)
from ._signature_v2 import NONCE_V2_HEADER, SIGNATURE_V2_HEADER, sign_v2, verify_signature_v2

if TYPE_CHECKING:
    from ._asgi import PlivoWebhook, verified_params

__all__ = [
    "NONCE_HEADER",
    "NONCE_V2_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_V2_HEADER",
    "ParamValue",
    "PlivoWebhook",
    "sign_v2",
    "sign_v3",
    "signed_text_v3",
    "verified_params",
    "verify_signature_v2",
    "verify_signature_v3",
]

_ASGI_NAMES = ("PlivoWebhook", "verified_params")
_MISSING_STARLETTE = (
    "plivo_phlo_async.webhooks.{name} needs Starlette: "
    "pip install 'plivo-phlo-async[emulator]' (or install starlette or fastapi)"
)


def __getattr__(name: str) -> Any:
    """Load the ASGI helpers (and Starlette) only when they are asked for."""
    if name not in _ASGI_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import _asgi
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("starlette"):
            raise
        raise ImportError(_MISSING_STARLETTE.format(name=name), name=exc.name) from exc
    return getattr(_asgi, name)
