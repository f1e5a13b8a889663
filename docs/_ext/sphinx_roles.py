"""Griffe extension: render the docstrings' reST touches as Markdown.

The package's docstrings are prose that name other objects with Sphinx roles
(:class:`Outcome`, :func:`~plivo_phlo_async.bulk.mark_jobs`). Markdown has no
roles, so each one becomes an optional autorefs link: a link where the name
resolves to an object the site documents, plain code otherwise (a private
helper, a stdlib class). Explicit references in the pages stay strict.
A paragraph ending in ``::`` (a reST literal block) ends in ``:``; the
indented block after it is already a Markdown code block.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_LITERAL_MARKER = re.compile(r"(\S)::\n\n|^[ \t]*::\n\n", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|exc|data|mod|obj|const):`(~?)([^`]+)`")


def _target(obj: griffe.Object, name: str) -> str | None:
    if name.startswith("."):  # relative to the module, as in :mod:`._reader`
        module = obj.module
        return module.path + name if module is not None else None
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except griffe.NameResolutionError:
        return name if "." in name else None
    return f"{resolved}.{rest}" if rest else resolved


def _convert(obj: griffe.Object, text: str) -> str:
    def link(match: re.Match[str]) -> str:
        short, name = match.groups()
        shown = name.lstrip(".").rsplit(".", 1)[-1] if short else name
        target = _target(obj, name)
        code = f"<code>{html.escape(shown)}</code>"
        if target is None:
            return code
        return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'

    text = _LITERAL_MARKER.sub(lambda m: f"{m.group(1)}:\n\n" if m.group(1) else "\n", text)
    return _ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _convert(obj, obj.docstring.value)

    # griffe < 2 calls the same hook by this name; converting twice changes nothing.
    on_package_loaded = on_package


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))  # type: ignore[arg-type]
    return found
