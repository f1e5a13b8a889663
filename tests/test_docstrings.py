"""Every public method of the client and its resource handles is documented where
users look (the API reference shows inherited ones on the handle itself): what it
sends, and whether that is ever retried."""

from __future__ import annotations

import inspect

import pytest

import plivo_phlo_async
from plivo_phlo_async import resources

CLASSES = [plivo_phlo_async.PhloClient, *(getattr(resources, name) for name in resources.__all__)]


def _public_methods(cls: type) -> list[tuple[str, object]]:
    """Public functions and properties, inherited included (and ``__call__``:
    ``client.phlo(phlo_id)``), each as the class it is defined on has it."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__[:-1]):  # without object
        for name, value in vars(klass).items():
            public = not name.startswith("_") or name == "__call__"
            if public and (inspect.isfunction(value) or isinstance(value, property)):
                found[name] = value
    return sorted(found.items())


METHODS = [
    pytest.param(value, id=f"{cls.__name__}.{name}")
    for cls in CLASSES
    for name, value in _public_methods(cls)
]


def test_the_walk_finds_the_inherited_member_actions() -> None:
    names = {name for name, _ in _public_methods(plivo_phlo_async.ConferenceBridgeMember)}
    assert {"mute", "unmute", "hold", "unhold", "hangup"} <= names


@pytest.mark.parametrize("method", METHODS)
def test_every_public_method_has_a_docstring(method: object) -> None:
    assert (inspect.getdoc(method) or "").strip()


@pytest.mark.parametrize("method", [m for m in METHODS if inspect.isfunction(m.values[0])])
def test_every_method_says_what_it_sends_and_whether_it_is_retried(method: object) -> None:
    doc = inspect.getdoc(method) or ""
    if "``GET " in doc or "``POST " in doc:
        assert "retried" in doc.lower() or "re-sent" in doc
    else:
        assert "sends nothing" in doc.lower()
