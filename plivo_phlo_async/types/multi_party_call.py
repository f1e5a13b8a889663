"""Models of the multi-party-call node's answers."""

from __future__ import annotations

from ._base import PlivoObject
from .phlo import AwareDatetime


class MultiPartyCallDetails(PlivoObject):
    """``GET /phlo/{phlo_id}/multi_party_call/{node_id}``."""

    node_id: str
    phlo_id: str
    name: str | None = None
    node_type: str | None = None
    created_on: AwareDatetime | None = None


class ActionResult(PlivoObject):
    """The answer to a node or member action (``201 {api_id, error: ""}``)."""

    error: str | None = None
