"""Small shared types."""

from __future__ import annotations

from typing import Final, final

__all__ = ["NOT_GIVEN", "NotGiven"]


@final
class NotGiven:
    """The default of an argument where None already means something (openai-python's
    convention): ``with_options(rate_limit=None)`` removes the limit, leaving
    ``rate_limit`` out keeps it."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
