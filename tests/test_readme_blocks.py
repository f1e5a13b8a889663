"""Every ```python block of the README and of docs/*.md runs as shown, against a fresh
emulator started with its defaults (no seeding here: the default seed holds the docs'
placeholder ids), with the environment its banner tells a reader to paste.

A block runs in a fresh interpreter, in a temporary directory, so what a reader copies is
what ran. A block that defines ``test_`` functions is run with pytest. A block preceded by
``<!-- not run: REASON -->`` is skipped with that reason (the list is kept short);
``<!-- needs: redis, postgres -->`` runs it only where those services are reachable (always
in CI), with their test URLs in place of the docs' local ones and, for Redis, keys of the
test's own (deleted afterwards), so a developer's data in the same Redis is never touched.
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
from _redis_keys import keys_under, redis_prefix
from _services import POSTGRES_URL, REDIS_URL, require

from plivo_phlo_async.emulator import run_emulator
from plivo_phlo_async.emulator._server import banner

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The docs' local service URLs, replaced by the test's.
SERVICE_URLS = {
    "redis://127.0.0.1:6379/0": REDIS_URL,
    "postgresql://postgres@127.0.0.1:5432/campaigns": POSTGRES_URL,
}
SERVICES = {"redis": ("Redis", REDIS_URL), "postgres": ("PostgreSQL", POSTGRES_URL)}
_DOCS_REDIS = '"redis://127.0.0.1:6379/0"'
#: Where a block names the docs' Redis, and what gives that use the test's own keys.
_OWN_REDIS_KEYS = {
    f"campaign_broker({_DOCS_REDIS}": "campaign_broker({url!r}, queue={queue!r}",
    f"redis={_DOCS_REDIS}": "redis={url!r}, key_prefix={prefix!r}",
}

__all__ = ["redis_prefix"]
_FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>not run|needs):\s*(?P<reason>[^>]*?)\s*-->\s*\n[ \t]*)?"
    r"```python\n(?P<code>.*?)```",
    re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    marker: str | None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def is_pytest(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.MULTILINE) is not None


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            page=page.relative_to(ROOT).as_posix(),
            line=text.count("\n", 0, match.start("code")),
            code=textwrap.dedent(match["code"]),  # a block inside a list item is indented
            marker=match["marker"],
            reason=match["reason"] or "",
        )
        for match in _FENCE.finditer(text)
    ]


def pasted_environment(text: str) -> dict[str, str]:
    """The variables of the ``export NAME=VALUE`` lines a banner prints."""
    found = re.findall(r"^\s*export (\w+)=(\S+)$", text, re.MULTILINE)
    return dict(found)


def own_redis_keys(code: str, prefix: str) -> str:
    """``code`` with each use of the docs' Redis on the test's Redis, under ``prefix``."""
    for local, own in _OWN_REDIS_KEYS.items():
        code = code.replace(
            local, own.format(url=REDIS_URL, prefix=prefix, queue=f"{prefix}campaign")
        )
    assert _DOCS_REDIS not in code, f"a use of Redis without keys of the test's own: {code}"
    return code


def _run(block: Block, tmp_path: Path, prefix: str) -> subprocess.CompletedProcess[str]:
    with run_emulator() as server:
        url = server.base_url.removesuffix("/v1")
        env = {**os.environ, **pasted_environment(banner(server.emulator, url))}
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
            code = own_redis_keys(block.code, prefix) if prefix else block.code
            for local, test in SERVICE_URLS.items():
                code = code.replace(local, test)
            command = [sys.executable, "-c", code]
        return subprocess.run(  # noqa: S603 - our own interpreter and docs
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


BLOCKS = [block for page in PAGES for block in page_blocks(page)]


def test_the_banner_tells_what_to_paste() -> None:
    with run_emulator() as server:
        url = server.base_url.removesuffix("/v1")
        pasted = pasted_environment(banner(server.emulator, url))
    assert pasted == {
        "PLIVO_AUTH_ID": "MAEMULATORAUTHID0001",
        "PLIVO_AUTH_TOKEN": "emulator-auth-token",
        "PLIVO_PHLO_BASE_URL": f"{url}/v1",
        "PLIVO_API_BASE_URL": f"{url}/v1",
    }


def test_every_page_is_read_and_few_blocks_are_not_run() -> None:
    assert {"README.md", "docs/api.md", "docs/bulk.md"} <= {block.page for block in BLOCKS}
    assert len(BLOCKS) >= 30
    not_run = [block.where for block in BLOCKS if block.marker == "not run"]
    assert len(not_run) <= 2, not_run
    assert all(block.reason for block in BLOCKS if block.marker)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_doc_block_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if block.marker == "not run":
        pytest.skip(f"{block.where} not run: {block.reason}")
    needs = {name.strip() for name in block.reason.split(",")} if block.marker == "needs" else set()
    for name in needs:
        require(*SERVICES[name])
    prefix = request.getfixturevalue("redis_prefix") if "redis" in needs else ""
    done = _run(block, tmp_path, prefix)
    assert done.returncode == 0, f"{block.where}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    if prefix:  # what it wrote to Redis is under the test's prefix (and deleted)
        assert keys_under(REDIS_URL, prefix), f"{block.where} wrote nothing under {prefix}"
