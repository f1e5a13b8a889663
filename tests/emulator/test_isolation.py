"""The core SDK never needs the emulator's dependencies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

BLOCK_EXTRA = """
import sys
for name in ("starlette", "uvicorn"):
    sys.modules[name] = None  # makes "import starlette" raise ImportError
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the running interpreter, fixed code
        [sys.executable, "-W", "error", "-c", BLOCK_EXTRA + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_core_sdk_imports_and_builds_a_client_without_starlette_or_uvicorn() -> None:
    done = _run(
        """
        import plivo_phlo_async
        client = plivo_phlo_async.PhloClient("MAXXXXXXXXXXXXXXXXXX", "token")
        assert client.phlo("p").multi_party_call("n").member("+1415").member_address == "+1415"
        assert "plivo_phlo_async.emulator" not in sys.modules
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_core_sdk_does_not_import_the_emulator() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, plivo_phlo_async; print(sorted(m for m in sys.modules "
            "if m.startswith(('plivo_phlo_async.emulator', 'starlette', 'uvicorn'))))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_pytest_plugin_and_the_emulator_package_import_without_the_extra() -> None:
    done = _run(
        """
        import plivo_phlo_async.emulator._pytest_plugin
        from plivo_phlo_async.emulator import PhloEmulator, run_emulator
        emulator = PhloEmulator()
        try:
            emulator.app
        except ImportError as exc:
            assert "pip install 'plivo-phlo-async[emulator]'" in str(exc), exc
        else:
            raise AssertionError("the app needs starlette")
        try:
            run_emulator().start()
        except ImportError as exc:
            assert "[emulator]" in str(exc), exc
        else:
            raise AssertionError("the server needs uvicorn")
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())

    entry_points = pyproject["project"]["entry-points"]["pytest11"]
    assert entry_points == {"plivo_phlo_emulator": "plivo_phlo_async.emulator._pytest_plugin"}
    extras = pyproject["project"]["optional-dependencies"]
    assert any(dep.startswith("starlette") for dep in extras["emulator"])
    assert any(dep.startswith("uvicorn") for dep in extras["emulator"])
    # dev installs the emulator (with the other extras the tests need)
    self_extras = [dep for dep in extras["dev"] if dep.startswith("plivo-phlo-async[")]
    assert any("emulator" in dep.partition("[")[2] for dep in self_extras), extras["dev"]
