"""Models of the Voice API's answers."""

from __future__ import annotations

from ._base import PlivoObject


class CallCreateResult(PlivoObject):
    """``POST /Account/{auth_id}/Call/``: the call was fired or queued.

    ``request_uuid`` is a list when ``to`` named several destinations.
    """

    message: str | None = None
    request_uuid: str | list[str] | None = None
