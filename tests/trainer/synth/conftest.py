"""Homes generated once per test session, shared by the generator's tests."""

import pytest

from homeiq_trainer.synth.home import SyntheticHome, generate_home
from homeiq_trainer.synth.options import GeneratorOptions

from .symptoms import HomeEvents

# Enough homes and failures that every failure kind occurs many times.
FAULT_OPTIONS = GeneratorOptions(homes=36, days=21, seed=20260105, failure_rate=0.15)


@pytest.fixture(scope="session")
def fault_homes() -> list[HomeEvents]:
    """Return homes with many failures, with their events split by entity."""
    return [
        HomeEvents.of(generate_home(FAULT_OPTIONS, index))
        for index in range(FAULT_OPTIONS.homes)
    ]


@pytest.fixture(scope="session")
def week_homes() -> list[SyntheticHome]:
    """Return 24 homes of every type over a week, the default failure rate."""
    options = GeneratorOptions(homes=24, days=7, seed=7)
    return [generate_home(options, index) for index in range(options.homes)]


@pytest.fixture(scope="session")
def setup_homes() -> list[SyntheticHome]:
    """Return 60 homes over 14 days: enough to measure how homes are set up."""
    options = GeneratorOptions(homes=60, days=14, seed=11)
    return [generate_home(options, index) for index in range(options.homes)]
