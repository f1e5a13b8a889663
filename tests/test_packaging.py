"""The wheel and the sdist carry the license and the typing marker."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(kind: str, outdir: Path) -> Path:
    subprocess.run(  # noqa: S603 - the build module on our own checkout
        [
            sys.executable,
            "-m",
            "build",
            f"--{kind}",
            "--no-isolation",
            "--outdir",
            str(outdir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = outdir.iterdir()
    return built


def test_the_wheel_ships_the_license_and_py_typed(tmp_path: Path) -> None:
    wheel = build("wheel", tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    licenses = [name for name in names if name.endswith("licenses/LICENSE")]
    assert licenses, names
    assert "plivo_phlo_async/py.typed" in names
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "License-File: LICENSE" in text
    assert "MIT License" in zipfile.ZipFile(wheel).read(licenses[0]).decode()


def test_the_sdist_ships_the_license(tmp_path: Path) -> None:
    sdist = build("sdist", tmp_path)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(name.endswith("/LICENSE") for name in names), names
    assert any(name.endswith("/README.md") for name in names)
