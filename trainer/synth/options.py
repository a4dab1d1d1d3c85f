"""The generator's options, which together with the seed decide every byte."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from homeiq_core.dataset import HOME_TYPES

DEFAULT_START = date(2026, 1, 5)


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """Parse `studio=1,apartment=2` into weights; raise ValueError when wrong."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if name not in HOME_TYPES:
            raise ValueError(
                f"unknown home type {name!r} in mix (known: {', '.join(HOME_TYPES)})"
            )
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise ValueError(
                f"weight of {name} must be a number, not {value!r}"
            ) from None
        if not weight >= 0 or weight == float("inf"):
            raise ValueError(f"weight of {name} must be a finite number ≥ 0")
        weights[name] = weight
    if not sum(weights.values()) > 0:
        raise ValueError("the mix needs at least one home type with a weight above 0")
    return tuple((name, weights[name]) for name in HOME_TYPES if name in weights)


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """What to generate. A home depends only on these and its index."""

    homes: int = 10
    days: int = 30
    seed: int = 0
    start: date = DEFAULT_START
    mix: tuple[tuple[str, float], ...] = field(
        default_factory=lambda: tuple((name, 1.0) for name in HOME_TYPES)
    )
    failure_rate: float = 0.05
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        """Check the ranges."""
        if self.homes < 1:
            raise ValueError("homes must be at least 1")
        if not 1 <= self.days <= 366:
            raise ValueError("days must be between 1 and 366")
        if self.seed < 0:
            raise ValueError("seed must be a non-negative integer")
        for name, value in (
            ("failure rate", self.failure_rate),
            ("label noise", self.label_noise),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    @property
    def start_time(self) -> float:
        """Return the window start (midnight UTC of `start`) in POSIX seconds."""
        moment = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return moment.timestamp()

    @property
    def end_time(self) -> float:
        """Return the window end in POSIX seconds."""
        return self.start_time + timedelta(days=self.days).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """Return the options as recorded in the manifest."""
        return {
            "homes": self.homes,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "mix": dict(self.mix),
            "failure_rate": self.failure_rate,
            "label_noise": self.label_noise,
        }
