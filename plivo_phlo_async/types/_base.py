"""The base of every response model."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from .._headers import ResponseHeaders

_NO_HEADERS = ResponseHeaders()

T = TypeVar("T")


class LazyPrivate(Generic[T]):
    """A private attribute that costs nothing until it is set.

    pydantic initialises every declared ``PrivateAttr`` of every model it
    builds (a post-init hook and a deep copy of each default, about 1.5 us a
    model), and reads one through ``__getattr__`` (about 1 us): both on the
    path of every trigger. This descriptor keeps its value in the same
    ``__pydantic_private__`` dict, made at the first assignment, so copies,
    pickles and ``==`` carry it as they carry private attributes; unset, it
    reads as ``default``. Declare it on a :class:`LazyPrivateModel`.
    """

    __slots__ = ("_default", "_name")

    def __init__(self, default: T) -> None:
        self._default = default
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> LazyPrivate[T]: ...
    @overload
    def __get__(self, obj: BaseModel, owner: type[Any]) -> T: ...
    def __get__(self, obj: BaseModel | None, owner: type[Any]) -> LazyPrivate[T] | T:
        if obj is None:
            return self
        private = obj.__pydantic_private__
        return self._default if private is None else private.get(self._name, self._default)

    def __set__(self, obj: BaseModel, value: T) -> None:
        private = obj.__pydantic_private__
        if private is None:
            object.__setattr__(obj, "__pydantic_private__", {self._name: value})
        else:
            private[self._name] = value


class LazyPrivateModel(BaseModel):
    """A model that may declare :class:`LazyPrivate` attributes."""

    # Ignored: pydantic would take a LazyPrivate for a private attribute's default.
    # Built on first use: building every model at import took 25 ms of CPU; one
    # model's first validation now takes about 8 ms, and validates the same.
    model_config = ConfigDict(ignored_types=(LazyPrivate,), defer_build=True)

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic's __setattr__ takes 0.6 us to reach a descriptor (it memoises
        # fields and PrivateAttrs only); this takes 0.2.
        if name.startswith("_") and isinstance(getattr(type(self), name, None), LazyPrivate):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class PlivoObject(LazyPrivateModel):
    """A JSON object returned by Plivo.

    Unknown fields are kept (read them as attributes or through
    ``model_extra``) so that a field Plivo adds tomorrow is not lost today.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    #: Plivo's identifier of the request that produced this answer.
    api_id: str | None = None

    # Not fields: they are not in Plivo's JSON, and must not show in dumps.
    _http_status = LazyPrivate[int | None](None)
    _http_headers = LazyPrivate[ResponseHeaders](_NO_HEADERS)

    @property
    def http_status(self) -> int | None:
        """The HTTP status of the answer (201 "call fired" vs 200 "call queued").

        None for a model built by hand rather than read from an answer.
        """
        return self._http_status

    @property
    def http_headers(self) -> ResponseHeaders:
        """The answer's headers: read-only, case-insensitive, no second request.

        Empty for a model built by hand rather than read from an answer.
        """
        return self._http_headers


def as_aware(value: datetime) -> datetime:
    """Plivo's timestamps are UTC; make a naive one say so."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
