"""Response models returned by the client's methods."""

from .._headers import ResponseHeaders
from ._base import PlivoObject
from .call import CallCreateResult
from .multi_party_call import ActionResult
from .node import ConferenceBridgeDetails, MultiPartyCallDetails, NodeDetails
from .phlo import PhloDetails, PhloRun, PhloRunResult

__all__ = [
    "ActionResult",
    "CallCreateResult",
    "ConferenceBridgeDetails",
    "MultiPartyCallDetails",
    "NodeDetails",
    "PhloDetails",
    "PhloRun",
    "PhloRunResult",
    "PlivoObject",
    "ResponseHeaders",
]
