"""Response models returned by the client's methods."""

from ._base import PlivoObject
from .call import CallCreateResult
from .multi_party_call import ActionResult, MultiPartyCallDetails
from .phlo import PhloDetails, PhloRun, PhloRunResult

__all__ = [
    "ActionResult",
    "CallCreateResult",
    "MultiPartyCallDetails",
    "PhloDetails",
    "PhloRun",
    "PhloRunResult",
    "PlivoObject",
]
