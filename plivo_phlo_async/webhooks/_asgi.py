"""Verifying a Starlette or FastAPI request: read it, check it, return its parameters.

No ``from __future__ import annotations`` here on purpose: FastAPI reads the
annotation of ``PlivoWebhook.__call__`` to know it should pass the
``Request``, and a string annotation on an instance's method is one it
cannot resolve.
"""

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlsplit

from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .._exceptions import InvalidParameterError
from ._signature import NONCE_HEADER, SIGNATURE_HEADER, _check_token, verify_signature_v3
from ._signature_v2 import NONCE_V2_HEADER, SIGNATURE_V2_HEADER, verify_signature_v2

if TYPE_CHECKING:
    from .._client import PhloClient

__all__ = ["PlivoWebhook", "verified_params"]

_FORM = "application/x-www-form-urlencoded"
# Every printable ASCII byte stays as sent; the rest of a raw query is percent-encoded.
_PRINTABLE = bytes(range(0x21, 0x7F))


class PlivoWebhook:
    """Checks that a request really comes from Plivo; usable as a FastAPI dependency.

    Give the auth token (``auth_token=``) or the ``PhloClient`` that holds it
    (``client=``). Behind a proxy or a tunnel, Plivo signed the URL it
    requested, not the one your server sees: give that public base as
    ``public_url`` (``"https://bot.example.com"``, with a path prefix if the
    proxy strips one); the request's path and query are appended to it.

    Calling it with a request returns the verified parameters: the form
    fields of a POST, the query of a GET. Anything else (no signature
    headers, a signature that does not match, a body that is not a form,
    a method other than GET and POST, a request that cannot be read) raises
    Starlette's ``HTTPException(403)``, which Starlette and FastAPI answer
    as 403.

    ``allow_v2=True`` also accepts a request carrying only
    ``X-Plivo-Signature-V2`` (V3 is checked whenever it is present). Off by
    default: V2 signs neither the query nor the form, so whoever captured one
    signed request could drop its V3 headers and send other parameters.
    """

    __slots__ = ("_allow_v2", "_auth_token", "_public_url", "_source")

    def __init__(
        self,
        *,
        auth_token: str | None = None,
        client: "PhloClient | None" = None,
        public_url: str | None = None,
        allow_v2: bool = False,
    ) -> None:
        if (auth_token is None) == (client is None):
            raise InvalidParameterError("auth_token", "give exactly one of auth_token or client")
        if client is not None:
            self._auth_token = _client_token(client)
            self._source = "client"
        else:
            self._auth_token = _check_token(auth_token).decode()
            self._source = "auth_token"
        self._public_url = _check_public_url(public_url)
        if not isinstance(allow_v2, bool):
            raise InvalidParameterError("allow_v2", f"must be a bool, not {allow_v2!r}")
        self._allow_v2 = allow_v2

    @property
    def public_url(self) -> str | None:
        """The URL Plivo called, signed in place of the request's own (behind a proxy)."""
        return self._public_url

    @property
    def allow_v2(self) -> bool:
        """Whether a request signed with V2 only is accepted."""
        return self._allow_v2

    async def __call__(self, request: Request) -> ImmutableMultiDict[str, str]:
        """The request's verified parameters; ``HTTPException(403)`` when it is not Plivo's.

        Sends nothing: it reads the request (the body of a POST) and checks its signature.
        """
        return await _verify(request, self)

    def __repr__(self) -> str:
        # Never the token: only where it came from.
        return (
            f"PlivoWebhook(token_from={self._source!r}, public_url={self._public_url!r},"
            f" allow_v2={self._allow_v2!r})"
        )


async def verified_params(
    request: Request,
    *,
    auth_token: str | None = None,
    client: "PhloClient | None" = None,
    public_url: str | None = None,
    allow_v2: bool = False,
) -> ImmutableMultiDict[str, str]:
    """The parameters of a request Plivo signed, or ``HTTPException(403)``.

    The one-call form of :class:`PlivoWebhook` (same arguments, same answers).
    """
    webhook = PlivoWebhook(
        auth_token=auth_token, client=client, public_url=public_url, allow_v2=allow_v2
    )
    return await webhook(request)


def _client_token(client: "PhloClient") -> str:
    """The auth token of a ``PhloClient``, through its internal accessor."""
    from .._client import PhloClient

    if not isinstance(client, PhloClient):
        raise InvalidParameterError("client", f"must be a PhloClient, not {type(client).__name__}")
    return client._auth_token


def _check_public_url(public_url: object) -> str | None:
    if public_url is None:
        return None
    if not isinstance(public_url, str):
        raise InvalidParameterError(
            "public_url", f"must be a string, not {type(public_url).__name__}"
        )
    try:
        public_url.encode()
        parts = urlsplit(public_url)
    except (UnicodeEncodeError, ValueError):  # a lone surrogate, "https://[::1"...
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or (parts.query or parts.fragment)
    ):
        raise InvalidParameterError(
            "public_url",
            f"must be an http(s) base URL without query, such as 'https://bot.example.com',"
            f" not {public_url!r}",
        )
    return public_url.rstrip("/")


def _query(request: Request) -> str:
    """The raw query, bytes outside printable ASCII percent-encoded.

    So that raw UTF-8 is decoded once, like percent-encoded UTF-8, both in
    what is verified and in what a GET returns (Starlette's query_params
    would read it as Latin-1).
    """
    return quote_from_bytes(request.scope.get("query_string", b""), safe=_PRINTABLE)


def _signed_url(request: Request, public_url: str | None, query: str) -> str:
    """The URL as Plivo requested it: the raw path (as sent, still percent-encoded)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.scope["path"])
    if public_url is None:
        # base_url, not url: Starlette decodes the query of request.url as strict UTF-8.
        public_url = f"{request.base_url.scheme}://{request.base_url.netloc}"
    return f"{public_url}{path}?{query}" if query else f"{public_url}{path}"


def _refuse(reason: str) -> HTTPException:
    return HTTPException(status_code=403, detail=f"Forbidden: {reason}")


async def _verify(request: Request, webhook: PlivoWebhook) -> ImmutableMultiDict[str, str]:
    """V3 when the request carries it; V2 only when allowed and V3 is absent."""
    headers = request.headers
    v3 = bool(headers.get(SIGNATURE_HEADER) or headers.get(NONCE_HEADER))
    if not v3 and not (webhook.allow_v2 and headers.get(SIGNATURE_V2_HEADER)):
        raise _refuse("missing Plivo signature headers")
    method = request.method.upper()
    if method not in ("GET", "POST"):
        raise _refuse(f"Plivo does not sign {method} requests")
    items: list[tuple[str, str]] = []
    if method == "POST":
        items = await _form_items(request)
    params: dict[str, str | list[str]] = {}
    for key, value in items:
        known = params.get(key)
        if known is None:
            params[key] = value
        elif isinstance(known, list):
            known.append(value)
        else:
            params[key] = [known, value]
    query = _query(request)
    try:
        url = _signed_url(request, webhook.public_url, query)
    except ValueError:  # the Host header older Starlettes build the URL from does not parse
        raise _refuse("invalid Plivo signature") from None
    token = webhook._auth_token
    if v3:
        ok = verify_signature_v3(
            method=method,
            url=url,
            params=params,
            nonce=headers.get(NONCE_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
            auth_token=token,
        )
    else:
        ok = verify_signature_v2(
            url=url,
            nonce=headers.get(NONCE_V2_HEADER),
            signature=headers.get(SIGNATURE_V2_HEADER),
            auth_token=token,
        )
    if not ok:
        raise _refuse("invalid Plivo signature")
    if method == "GET":
        return ImmutableMultiDict(parse_qsl(query, keep_blank_values=True))
    return ImmutableMultiDict(items)


async def _form_items(request: Request) -> list[tuple[str, str]]:
    """The urlencoded body Plivo POSTs, parsed without python-multipart."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body:
        return []
    if content_type != _FORM:
        raise _refuse(f"the body must be {_FORM}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("the body is not UTF-8") from None
    return parse_qsl(text, keep_blank_values=True)
