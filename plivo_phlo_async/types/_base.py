"""The base of every response model."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ._headers import ResponseHeaders

_NO_HEADERS = ResponseHeaders()


class PlivoObject(BaseModel):
    """A JSON object returned by Plivo.

    Unknown fields are kept (read them as attributes or through
    ``model_extra``) so that a field Plivo adds tomorrow is not lost today.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    #: Plivo's identifier of the request that produced this answer.
    api_id: str | None = None

    # Not a field: it is not in Plivo's JSON, and must not show in dumps.
    _http_status: int | None = PrivateAttr(default=None)
    _http_headers: ResponseHeaders = PrivateAttr(default=_NO_HEADERS)

    @property
    def http_status(self) -> int | None:
        """The HTTP status of the answer (201 "call fired" vs 200 "call queued").

        None for a model built by hand rather than read from an answer.
        """
        return self._http_status

    @property
    def http_headers(self) -> ResponseHeaders:
        """The answer's headers: read-only, case-insensitive, no second request.

        Empty for a model built by hand rather than read from an answer.
        """
        return self._http_headers


def as_aware(value: datetime) -> datetime:
    """Plivo's timestamps are UTC; make a naive one say so."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
