"""Imports point one way: resources → transport → httpx; the core never imports
the CLI, the emulator or the integrations; the bulk package and the resources
see ``PhloClient`` for type checking only (the client imports bulk lazily).

Read from the source with ``ast``, so an import inside a function counts too,
and one under ``if TYPE_CHECKING:`` does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "plivo_phlo_async"


def runtime_imports(path: Path) -> set[str]:
    """The package-relative modules ``path`` imports at run time (``_client``, ``bulk._jobs``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    package = parts[:-1]  # pkg/__init__.py and pkg/mod.py both live in pkg
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.level:
                base = list(package[: len(package) - (child.level - 1)])
                module = [*base, *(child.module.split(".") if child.module else [])]
                if child.module is None:
                    found.update(".".join([*module, alias.name]) for alias in child.names)
                else:
                    found.add(".".join(module))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                "plivo_phlo_async"
            ):
                found.add(child.module.removeprefix("plivo_phlo_async").lstrip("."))
            elif isinstance(child, ast.Import):
                found.update(
                    alias.name.removeprefix("plivo_phlo_async").lstrip(".")
                    for alias in child.names
                    if alias.name.startswith("plivo_phlo_async")
                )
            visit(child)

    visit(tree)
    return found


def modules(where: str) -> list[Path]:
    """The modules of subpackage ``where`` (all levels), or of the package's top ("")."""
    return sorted((PACKAGE / where).rglob("*.py")) if where else sorted(PACKAGE.glob("*.py"))


CORE = [
    *modules(""),
    *modules("_fastpath"),
    *modules("_ratelimit"),
    *modules("resources"),
    *modules("types"),
    *modules("bulk"),
    *modules("webhooks"),
]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_never_imports_the_cli_the_emulator_or_the_integrations(path: Path) -> None:
    outer = {
        m for m in runtime_imports(path) if m.split(".")[0] in ("cli", "emulator", "integrations")
    }
    assert outer == set()


@pytest.mark.parametrize(
    "path",
    [
        *modules("bulk"),
        *modules("resources"),
        *modules("types"),
        *modules("_fastpath"),
        *modules("_ratelimit"),
    ],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_lower_layers_see_the_client_for_type_checking_only(path: Path) -> None:
    assert "_client" not in runtime_imports(path)


@pytest.mark.parametrize(
    "path",
    [*modules("_fastpath"), *modules("_ratelimit"), *modules("types")],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_the_transport_never_imports_resources_or_bulk(path: Path) -> None:
    upper = {m for m in runtime_imports(path) if m.split(".")[0] in ("resources", "bulk")}
    assert upper == set()


def test_the_reader_finds_a_runtime_import_and_skips_a_type_checking_one() -> None:
    imports = runtime_imports(PACKAGE / "bulk" / "_runner.py")
    assert "_base_client" in imports
    assert "bulk._jobs" in imports
    assert "_client" not in imports  # imported under TYPE_CHECKING there
