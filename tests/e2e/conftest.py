"""What the end-to-end tests share: one run of the demo, HomeIQ's cache."""

from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
import io
from pathlib import Path

import pytest
import pytest_socket

from homeiq_trainer import cli


@dataclass(frozen=True)
class DemoRun:
    """What `homeiq-trainer demo --no-wait` returned, printed and left behind."""

    code: int
    out: str
    err: str
    config_dir: Path

    @property
    def registry(self) -> Path:
        """Return the registry of the models the demo trained and pushed."""
        return self.config_dir / "trainer" / "registry"


@pytest.fixture(scope="session")
def homeiq_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a cache directory shared by the demo and the loop's training."""
    return tmp_path_factory.mktemp("homeiq-cache")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, homeiq_cache: Path) -> DemoRun:
    """Run the demo once in this process (it trains; the loop reuses its models)."""
    pytest_socket.enable_socket()
    config_dir = tmp_path_factory.mktemp("demo") / "config"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOMEIQ_CACHE", str(homeiq_cache))
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(
                ["demo", "--no-wait", "--config-dir", str(config_dir), "--jobs", "2"]
            )
    return DemoRun(code, out.getvalue(), err.getvalue(), config_dir)
