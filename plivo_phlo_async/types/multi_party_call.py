"""Models of the multi-party-call node's answers."""

from __future__ import annotations

from ._base import PlivoObject
from .node import MultiPartyCallDetails

__all__ = ["ActionResult", "MultiPartyCallDetails"]


class ActionResult(PlivoObject):
    """The answer to a node or member action (``201 {api_id, error: ""}``)."""

    error: str | None = None
