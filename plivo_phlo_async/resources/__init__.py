"""Resources: one module per part of the API, each building its own URLs."""

from .calls import Calls
from .multi_party_call import Member, MultiPartyCall
from .phlo import Phlo, PhloResource

__all__ = ["Calls", "Member", "MultiPartyCall", "Phlo", "PhloResource"]
