"""The installed `homeiq-trainer` command answers --help and --version."""

from pathlib import Path
import subprocess
import sys
import tomllib

import pytest

from homeiq_trainer import __version__
from homeiq_trainer.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).with_name("homeiq-trainer")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], capture_output=True, text=True, check=False
    )


def test_version_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"homeiq-trainer {project['version']}"
    assert __version__ == project["version"]


def test_help_describes_the_trainer() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: homeiq-trainer")
    assert "ONNX" in result.stdout


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "homeiq_trainer", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"homeiq-trainer {__version__}"


def test_no_arguments_print_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("usage: homeiq-trainer")
