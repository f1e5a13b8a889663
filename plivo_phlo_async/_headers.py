"""The headers of the answer a model was read from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

__all__ = ["ResponseHeaders"]

# Never shown, should a server (or a proxy) echo the request's credentials back.
_WITHHELD = frozenset({"authorization", "proxy-authorization"})


class ResponseHeaders(Mapping[str, str]):
    """A read-only, case-insensitive view of an answer's headers.

    Built from the raw header list either sending path read, without a
    second request; the index is made on first use, so an answer nobody
    inspects costs nothing. A header sent several times reads as its values
    joined with ``", "`` (as in httpx); :meth:`get_list` gives them apart.
    Names are lower-cased. ``Authorization`` headers are never kept.
    """

    __slots__ = ("_index", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self._raw = raw
        self._index: dict[str, list[str]] | None = None

    def _values(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._raw:
                key = name.decode("latin-1").lower()
                if key not in _WITHHELD:
                    index.setdefault(key, []).append(value.decode("latin-1"))
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return ", ".join(self._values()[name.lower()])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in the order received (empty if absent)."""
        return list(self._values().get(name.lower(), ()))

    def __copy__(self) -> ResponseHeaders:
        return self  # read-only: a copy would be the same

    def __deepcopy__(self, memo: dict[int, object]) -> ResponseHeaders:
        # pydantic deep-copies a private attribute's default for every model it
        # builds: this keeps that free for the shared empty default.
        return self

    def __getstate__(self) -> dict[str, list[str]]:
        return self._values()

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self._raw = ()
        self._index = state

    def __repr__(self) -> str:
        return f"ResponseHeaders({dict(self.items())!r})"
