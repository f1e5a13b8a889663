"""Resources: one module per part of the API, each building its own URLs."""

from .calls import Calls
from .conference_bridge import ConferenceBridge, ConferenceBridgeMember
from .multi_party_call import Member, MultiPartyCall
from .node import Node
from .phlo import Phlo, PhloResource

__all__ = [
    "Calls",
    "ConferenceBridge",
    "ConferenceBridgeMember",
    "Member",
    "MultiPartyCall",
    "Node",
    "Phlo",
    "PhloResource",
]
