"""EventTally counts well-formed events and tallies the rest as rejected."""

import pytest

from homeiq_core.telemetry import EventTally, entity_domain, shows_liveness


def test_counts_events_per_domain_largest_first() -> None:
    tally = EventTally()
    for entity_id in ("light.a", "sensor.t", "light.b", "light.a"):
        assert tally.record(entity_id)

    assert tally.as_dict() == {
        "seen": 4,
        "rejected": 0,
        "by_domain": {"light": 3, "sensor": 1},
    }
    assert list(tally.as_dict()["by_domain"]) == ["light", "sensor"]


@pytest.mark.parametrize(
    "entity_id",
    [
        None,
        42,
        b"light.kitchen",
        "",
        "kitchen",
        "light.",
        ".kitchen",
        "light.kitchen.lamp",
        "Light.Kitchen",
        "light.kitchen\n",
        "light._kitchen",
        "light__x.kitchen",
        "light.kitchen " + "x" * 100_000,
    ],
)
def test_malformed_entity_ids_are_rejected_not_raised(entity_id: object) -> None:
    tally = EventTally()
    assert not tally.record(entity_id)
    assert (tally.seen, tally.rejected, dict(tally.by_domain)) == (0, 1, {})


@pytest.mark.parametrize(
    ("entity_id", "domain"),
    [
        ("light.kitchen", "light"),
        ("sensor.hall_temperature_2", "sensor"),
        ("binary_sensor.door", "binary_sensor"),
        ("a.b", "a"),
    ],
)
def test_entity_domain(entity_id: str, domain: str) -> None:
    assert entity_domain(entity_id) == domain


@pytest.mark.parametrize(
    ("entity_id", "expected"),
    [
        ("sensor.kitchen_temperature", True),
        ("binary_sensor.door", True),
        ("event.doorbell", True),
        ("button.restart", False),
        ("notify.phone", False),
        ("scene.evening", False),
        ("not an id", False),
        (None, False),
    ],
)
def test_only_entities_with_a_state_of_their_own_show_liveness(
    entity_id: object, expected: bool
) -> None:
    assert shows_liveness(entity_id) is expected
