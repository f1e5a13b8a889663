"""Griffe extension: document resource handles as users meet them.

A handle (``Phlo``, ``Member``...) is built by the client from its internals
(``client.phlo(id).multi_party_call(node).member(addr)``), never by the user,
so its constructor is hidden, and the public methods it inherits from a base
the reference does not show (``Member.mute`` from ``MemberHandle``) are listed
on the handle itself. A handle is any class whose ``__init__`` takes a
``BaseClient``; classes users construct (``PhloClient``...) are left alone,
but for their private keyword parameters (``PhloClient(_copy=...)``, which
``with_options`` passes), which the reference does not show either.
"""

from __future__ import annotations

from typing import Any

import griffe


def _takes_client(cls: griffe.Class) -> bool:
    init = cls.all_members.get("__init__")
    return isinstance(init, griffe.Function | griffe.Alias) and any(
        str(parameter.annotation) == "BaseClient" for parameter in init.parameters
    )


def _classes(obj: griffe.Object) -> list[griffe.Class]:
    found = [obj] if isinstance(obj, griffe.Class) else []
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_classes(member))  # type: ignore[arg-type]
    return found


class ResourceHandles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        handles = [cls for cls in _classes(pkg) if _takes_client(cls)]
        for cls in handles:
            for name, member in cls.inherited_members.items():
                if not name.startswith("_"):
                    cls.set_member(name, griffe.Alias(name, member.target, parent=cls))
        for cls in handles:
            if "__init__" in cls.members:
                cls.del_member("__init__")
            cls.bases.clear()  # Resource, MemberHandle: internals the reference does not show
        for cls in _classes(pkg):
            init = cls.members.get("__init__")
            if isinstance(init, griffe.Function):
                for name in [p.name for p in init.parameters if p.name.startswith("_")]:
                    del init.parameters[name]

    # griffe < 2 calls the same hook by this name.
    on_package_loaded = on_package
