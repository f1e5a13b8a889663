"""Every ```python block of the README runs as shown, against an emulator started here.

A block runs in a fresh interpreter, in a temporary directory, with the emulator's
credentials and base URLs in the environment (``PhloClient()`` reads them), so what a
reader copies is what ran. A block that defines ``test_`` functions is run with pytest.
A block preceded by ``<!-- not run: REASON -->`` is skipped with that reason (the list is
kept short); ``<!-- needs: redis -->`` runs it only where a Redis is reachable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from _services import REDIS_URL, require

from plivo_phlo_async.emulator import (
    EmulatorConfig,
    MemberSeed,
    NodeSeed,
    PhloSeed,
    run_emulator,
)
from plivo_phlo_async.emulator._config import default_phlos

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>not run|needs):\s*(?P<reason>[^>]*?)\s*-->\s*\n[ \t]*)?"
    r"```python\n(?P<code>.*?)```",
    re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    line: int
    code: str
    marker: str | None
    reason: str

    @property
    def is_pytest(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.MULTILINE) is not None


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(
            line=text.count("\n", 0, match.start("code")),
            code=textwrap.dedent(match["code"]),  # a block inside a list item is indented
            marker=match["marker"],
            reason=match["reason"] or "",
        )
        for match in _FENCE.finditer(text)
    ]


def _seed() -> EmulatorConfig:
    """The default PHLOs, plus the README's placeholders: ``PHLO_ID`` with a multi-party
    call ``NODE_ID`` and a conference bridge ``BRIDGE_ID`` that ``+14155550111`` dialled."""
    bridge = NodeSeed(
        node_id="BRIDGE_ID",
        node_type="conference_bridge",
        members=(MemberSeed("+14155550111", "customer"),),
    )
    placeholder = PhloSeed(phlo_id="PHLO_ID", nodes=(NodeSeed(node_id="NODE_ID"), bridge))
    return EmulatorConfig(phlos=(*default_phlos(), placeholder))


def _run(block: Block, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    with run_emulator(_seed()) as server:
        env = {
            **os.environ,
            "PLIVO_AUTH_ID": server.emulator.auth_id,
            "PLIVO_AUTH_TOKEN": server.emulator.auth_token,
            "PLIVO_PHLO_BASE_URL": server.base_url,
            "PLIVO_API_BASE_URL": server.base_url,
            "PLIVO_PHLO_TEST_REDIS_URL": REDIS_URL,
        }
        if block.is_pytest:
            (tmp_path / "test_block.py").write_text(block.code, encoding="utf-8")
            (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            command = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "test_block.py",
            ]
        else:
            code = block.code.replace("redis://127.0.0.1:6379/0", REDIS_URL)
            command = [sys.executable, "-c", code]
        return subprocess.run(  # noqa: S603 - our own interpreter and README
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


BLOCKS = readme_blocks()


def test_the_readme_has_python_blocks_and_few_are_not_run() -> None:
    assert len(BLOCKS) >= 10
    not_run = [block for block in BLOCKS if block.marker == "not run"]
    assert len(not_run) <= 2, [block.line for block in not_run]
    assert all(block.reason for block in not_run)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{b.line}" for b in BLOCKS])
def test_readme_block_runs(block: Block, tmp_path: Path) -> None:
    if block.marker == "not run":
        pytest.skip(f"README.md:{block.line} not run: {block.reason}")
    if block.marker == "needs":
        assert block.reason == "redis", block.reason
        require("Redis", REDIS_URL)
    done = _run(block, tmp_path)
    assert done.returncode == 0, f"README.md:{block.line}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
