"""Models of the PHLO endpoints' answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from ._base import PlivoObject, as_aware

#: A datetime that is always timezone-aware: a naive one (Plivo's timestamps
#: are UTC) is taken as UTC. Unlike pydantic's ``AwareDatetime``, which refuses
#: naive values.
UtcAssumedDatetime = Annotated[datetime, AfterValidator(as_aware)]


class PhloDetails(PlivoObject):
    """``GET /phlo/{phlo_id}``: a PHLO of the account."""

    phlo_id: str
    name: str | None = None
    created_on: UtcAssumedDatetime | None = None


class PhloRunResult(PlivoObject):
    """``POST /account/{auth_id}/phlo/{phlo_id}``: a PHLO was triggered.

    Plivo answers 2xx even when the run stopped early; ``message`` says what
    happened. The run's id is the ``api_id`` (Plivo's ``phlo_run_id``), which
    Plivo always returns on success: an answer without it is an
    :class:`~plivo_phlo_async.APIResponseValidationError`, so ``run_id`` is a
    ``str`` that type-checks as ``get_run``'s argument.
    """

    api_id: str
    phlo_id: str | None = None
    message: str | None = None

    @property
    def run_id(self) -> str:
        """The id to pass to ``get_run``."""
        return self.api_id


class PhloRun(PlivoObject):
    """``GET /phlo/{phlo_id}/runs/{run_id}``: what one run started."""

    phlo_id: str
    run_id: str
    call_uuids: list[str] = Field(default_factory=list)
    message_uuids: list[str] = Field(default_factory=list)
    recording_ids: list[str] = Field(default_factory=list)
