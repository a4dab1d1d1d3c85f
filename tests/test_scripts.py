"""scripts/bootstrap fails clearly, and changes nothing, when it cannot get a Python."""

import os
from pathlib import Path
import shutil
import subprocess

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the scripts need from the system, without any Python, dpkg or apt-get.
TOOLS = ("bash", "dirname", "cat", "cut", "sha256sum", "rm", "find", "sort", "tail")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """Return a copy of the scripts in an otherwise empty checkout."""
    (tmp_path / "repo").mkdir()
    shutil.copytree(ROOT / "scripts", tmp_path / "repo" / "scripts")
    return tmp_path / "repo"


def _bootstrap(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = checkout.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in TOOLS:
        link = bin_dir / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool))
    return subprocess.run(
        [str(bin_dir / "bash"), "scripts/bootstrap"],
        cwd=checkout,
        env={
            "PATH": str(bin_dir),
            "HOME": str(checkout.parent),
            "HOMEIQ_CACHE": str(checkout.parent / "cache"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_rejects_a_homeiq_python_that_is_too_old(checkout: Path) -> None:
    old_python = checkout.parent / "python3.11"
    old_python.write_text("#!/bin/sh\nexit 1\n")
    old_python.chmod(0o755)

    result = _bootstrap(checkout, HOMEIQ_PYTHON=str(old_python))

    assert result.returncode == 1
    assert f"HOMEIQ_PYTHON={old_python} is not a Python >= 3.14.2" in result.stderr
    assert not (checkout / ".venv").exists()


def test_explains_what_to_do_without_python_or_debian(checkout: Path) -> None:
    result = _bootstrap(checkout)

    assert result.returncode == 1
    assert "this is not a Debian-like system; install Python >= 3.14.2" in (
        result.stderr
    )
    assert "could not get a Python >= 3.14.2" in result.stderr
    assert not (checkout / ".venv").exists()
    assert os.listdir(checkout) == ["scripts"]
