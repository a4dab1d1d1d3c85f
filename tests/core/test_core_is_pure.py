"""The core runs without Home Assistant and is the integration's own code."""

from pathlib import Path
import subprocess
import sys

import homeiq_core

ROOT = Path(__file__).resolve().parents[2]

# Import every core module in a fresh interpreter where `homeassistant` cannot load.
PROBE = """
import importlib, pkgutil, sys
sys.modules["homeassistant"] = None
import homeiq_core
names = [m.name for m in pkgutil.walk_packages(homeiq_core.__path__, "homeiq_core.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_core_imports_without_home_assistant() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 1


def test_trainer_and_integration_share_one_copy_of_the_core() -> None:
    core_dir = Path(homeiq_core.__file__).resolve().parent
    assert core_dir == ROOT / "custom_components" / "homeiq" / "core"
