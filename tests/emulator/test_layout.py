"""The emulator's HTTP layer reaches the emulator only through its serving
methods, and its modules import one way: gate -> endpoints -> shared helpers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from plivo_phlo_async import emulator as emulator_package

PACKAGE = Path(emulator_package.__file__).parent
HTTP_LAYER = ("_app.py", "_http.py", "_phlo_api.py", "_voice_api.py", "_admin_api.py")
ENDPOINTS = ("_http.py", "_phlo_api.py", "_voice_api.py", "_admin_api.py")


def _relative_imports(name: str) -> set[str]:
    tree = ast.parse((PACKAGE / name).read_text())
    return {
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1
    }


@pytest.mark.parametrize("name", HTTP_LAYER)
def test_the_http_layer_touches_no_private_attribute_of_the_emulator(name: str) -> None:
    source = (PACKAGE / name).read_text()

    assert re.findall(r"emulator\._\w+", source) == []


@pytest.mark.parametrize("name", ENDPOINTS)
def test_endpoints_never_import_the_gate(name: str) -> None:
    assert "_app" not in _relative_imports(name)
