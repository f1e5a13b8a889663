"""Models of a PHLO node's ``GET`` answer, for any node type."""

from __future__ import annotations

from ._base import PlivoObject
from .phlo import UtcAssumedDatetime


class NodeDetails(PlivoObject):
    """``GET /phlo/{phlo_id}/{node_type}/{node_id}``: one node of a PHLO.

    The answer for a node type this SDK has no model of; its other fields
    are kept (``model_extra``).
    """

    node_id: str
    phlo_id: str
    name: str | None = None
    node_type: str | None = None
    created_on: UtcAssumedDatetime | None = None


class MultiPartyCallDetails(NodeDetails):
    """``GET /phlo/{phlo_id}/multi_party_call/{node_id}``."""


class ConferenceBridgeDetails(NodeDetails):
    """``GET /phlo/{phlo_id}/conference_bridge/{node_id}``."""


#: The model each known node type is read into; others are :class:`NodeDetails`.
NODE_MODELS: dict[str, type[NodeDetails]] = {
    "multi_party_call": MultiPartyCallDetails,
    "conference_bridge": ConferenceBridgeDetails,
}
