"""Home types differ as archetypes.py designs them, and overlap as real homes do.

The figures come from 640 drawn plans (no events; about a second): what the
inventory shows (floors, areas, devices and their entities, protocols, power
sources) and, where the inventory cannot say it, the plan (occupants, climate
zones). Bands sit around the designed probabilities with room for sampling
(about 80 homes per type); the measured values at seed 2026 are in comments.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
import itertools
import re

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from homeiq_core.dataset import HOME_TYPES, Entity, Inventory
from homeiq_trainer.synth.archetypes import CONFUSABLE, HomePlan
from homeiq_trainer.synth.home import draw_plan, draw_type, generate_home
from homeiq_trainer.synth.options import GeneratorOptions

PLAN_OPTIONS = GeneratorOptions(homes=640, seed=2026)
FLATS = ("studio", "apartment", "condo")
HOUSES = ("townhouse", "single_family_house", "cottage", "multi_story", "ranch_house")
# Pairs of types a person could mistake for each other, either way round.
CONFUSED = {frozenset((a, b)) for a, others in CONFUSABLE.items() for b in others}


@dataclass(frozen=True, slots=True)
class Drawn:
    """One drawn home: its plan and the inventory a dataset would hold."""

    plan: HomePlan
    inventory: Inventory

    @property
    def home_type(self) -> str:
        return self.plan.home_type

    def has(self, test: Callable[[Entity], bool]) -> bool:
        return any(test(entity) for entity in self.inventory.all_entities())


@pytest.fixture(scope="module")
def drawn() -> list[Drawn]:
    plans = [draw_plan(PLAN_OPTIONS, index) for index in range(PLAN_OPTIONS.homes)]
    return [Drawn(plan, plan.inventory()) for plan in plans]


@pytest.fixture(scope="module")
def by_type(drawn: list[Drawn]) -> dict[str, list[Drawn]]:
    groups: dict[str, list[Drawn]] = {name: [] for name in HOME_TYPES}
    for home in drawn:
        groups[home.home_type].append(home)
    return groups


def share(homes: list[Drawn], test: Callable[[Drawn], bool]) -> float:
    return float(np.mean([test(home) for home in homes]))


def above_ground(home: Drawn) -> int:
    """Return the recorded floors at or above ground (flats: building storeys)."""
    return sum(1 for f in home.inventory.floors if f.level is None or f.level >= 0)


def area_kind(area_id: str) -> str:
    """Return the kind of an area from its id ("bedroom_2" -> "bedroom")."""
    return re.sub(r"_\d+$", "", area_id)


def has_area(home: Drawn, kind: str) -> bool:
    return any(area_kind(a.area_id) == kind for a in home.inventory.areas)


def test_every_type_is_drawn(by_type: dict[str, list[Drawn]]) -> None:
    counts = {name: len(homes) for name, homes in by_type.items()}
    assert min(counts.values()) >= 50, counts  # an even mix: 62..90 of 640


def test_floors_follow_the_type(by_type: dict[str, list[Drawn]]) -> None:
    # Most users never define floors: HA added them late (designed 55 %).
    unrecorded = [not h.inventory.floors for homes in by_type.values() for h in homes]
    assert 0.4 <= np.mean(unrecorded) <= 0.7
    recorded = {
        name: [h for h in homes if h.inventory.floors]
        for name, homes in by_type.items()
    }
    for name in FLATS:
        assert all(above_ground(h) <= 2 for h in recorded[name]), name
    # Designed P(1 storey): studio .97, apartment .88, condo .8, ranch .92,
    # cottage .55; measured .95, .89, .82, .87, .54.
    single = {
        name: share(homes, lambda h: above_ground(h) == 1)
        for name, homes in recorded.items()
    }
    assert single["studio"] >= 0.9, single
    assert single["apartment"] >= 0.75, single
    assert single["condo"] >= 0.65, single
    assert single["ranch_house"] >= 0.8, single
    assert 0.3 <= single["cottage"] <= 0.8, single
    assert all(above_ground(h) <= 2 for h in recorded["cottage"])
    # Townhouses stack 2-3 storeys (designed .92, measured .92), multi-storey
    # homes at least 3 (designed .95, measured .96).
    assert share(recorded["townhouse"], lambda h: above_ground(h) >= 2) >= 0.8
    assert share(recorded["multi_story"], lambda h: above_ground(h) >= 3) >= 0.85
    # Single-family houses come both ways (designed .35 / .6; measured .37 / .6).
    house = Counter(above_ground(h) for h in recorded["single_family_house"])
    total = house.total()
    assert house[1] >= 0.2 * total, house
    assert house[2] >= 0.4 * total, house


def test_basements_only_under_houses(by_type: dict[str, list[Drawn]]) -> None:
    for name in FLATS:
        for home in by_type[name]:
            assert not has_area(home, "basement"), name
            assert all((f.level or 0) >= 0 for f in home.inventory.floors), name
    basement = {
        name: share(by_type[name], lambda h: has_area(h, "basement")) for name in HOUSES
    }
    # Designed .5 / .35 / .3 / .2 / .05; measured .52 / .38 / .36 / .17 / .01.
    assert basement["multi_story"] >= 0.35, basement
    assert 0.2 <= basement["single_family_house"] <= 0.55, basement
    assert 0.15 <= basement["ranch_house"] <= 0.5, basement
    assert basement["cottage"] <= 0.15, basement
    assert basement["multi_story"] == max(basement.values()), basement


def test_flats_are_storeys_of_a_building(by_type: dict[str, list[Drawn]]) -> None:
    # A flat's floor level is its storey in the building (0-11 drawn), a house's
    # levels run from the ground (0) or the basement (-1) to its top (3 at most).
    flats = [h for name in FLATS for h in by_type[name] if h.inventory.floors]
    lowest = [min(f.level or 0 for f in h.inventory.floors) for h in flats]
    assert np.mean(np.array(lowest) >= 1) >= 0.75  # measured .9
    assert max(lowest) >= 8
    for name in HOUSES:
        for home in by_type[name]:
            assert all(-1 <= (f.level or 0) <= 3 for f in home.inventory.floors)


def areas(home: Drawn) -> int:
    return len(home.inventory.areas)


def devices(home: Drawn) -> int:
    return len(home.inventory.devices)


def _medians_ordered(
    by_type: dict[str, list[Drawn]],
    tiers: list[tuple[str, ...]],
    value: Callable[[Drawn], int],
) -> None:
    """Assert every type's median is below every median of the next tier."""
    medians = {
        name: float(np.median([value(h) for h in by_type[name]]))
        for tier in tiers
        for name in tier
    }
    for lower, upper in itertools.pairwise(tiers):
        assert max(medians[n] for n in lower) < min(medians[n] for n in upper), (
            lower,
            upper,
            medians,
        )


def test_size_follows_the_type(by_type: dict[str, list[Drawn]]) -> None:
    # Areas, medians measured: studio 4 < apartment 8, condo 9, cottage 10 <
    # townhouse 12 < single-family 15, ranch 17 < multi-storey 20.
    _medians_ordered(
        by_type,
        [
            ("studio",),
            ("apartment", "condo", "cottage"),
            ("townhouse",),
            ("single_family_house", "ranch_house"),
            ("multi_story",),
        ],
        areas,
    )
    # Devices, medians measured: studio 18 < apartment 26.5 < single-family 45.5,
    # ranch 49.5 < multi-storey 60.5 (condo 32, cottage 32, townhouse 41 between).
    _medians_ordered(
        by_type,
        [
            ("studio",),
            ("apartment",),
            ("single_family_house", "ranch_house"),
            ("multi_story",),
        ],
        devices,
    )


def test_occupants_follow_the_type(by_type: dict[str, list[Drawn]]) -> None:
    def people(names: tuple[str, ...]) -> float:
        return float(
            np.mean([len(h.plan.occupants) for n in names for h in by_type[n]])
        )

    # The inventory's person entities are the occupants.
    for home in (h for homes in by_type.values() for h in homes):
        persons = [e for e in home.inventory.entities if e.domain == "person"]
        assert len(persons) == len(home.plan.occupants)
    # Designed means 1.2; 2.0-2.05; 2.8-3.5. Measured 1.24; 2.07; 3.1.
    studio = people(("studio",))
    small = people(("apartment", "condo", "cottage"))
    large = people(("townhouse", "single_family_house", "multi_story", "ranch_house"))
    assert studio < 1.5
    assert studio + 0.5 < small < large - 0.6, (studio, small, large)
    assert share(by_type["studio"], lambda h: len(h.plan.occupants) == 1) >= 0.65

    # Retired adults live in cottages and ranch houses more often (designed
    # .28 against .12 of adults; measured .27 against .12).
    def retired(names: tuple[str, ...]) -> float:
        adults = [
            p
            for n in names
            for h in by_type[n]
            for p in h.plan.occupants
            if p != "child"
        ]
        return float(np.mean([p == "retired" for p in adults]))

    rural = retired(("cottage", "ranch_house"))
    others = retired(
        tuple(n for n in HOME_TYPES if n not in {"cottage", "ranch_house"})
    )
    assert rural >= 1.6 * others, (rural, others)


def _kind(home: Drawn, kind: str) -> bool:
    return any(device.kind == kind for device in home.plan.devices)


FEATURES: dict[str, Callable[[Drawn], bool]] = {
    "garage_door": lambda h: h.has(
        lambda e: e.domain == "cover" and e.device_class == "garage"
    ),
    "gate": lambda h: h.has(lambda e: e.domain == "cover" and e.device_class == "gate"),
    "irrigation": lambda h: h.has(lambda e: e.domain == "valve"),
    "lawn_mower": lambda h: h.has(lambda e: e.domain == "lawn_mower"),
    "pool_pump": lambda h: _kind(h, "pool_pump"),
    "solar_or_ev": lambda h: _kind(h, "solar") or _kind(h, "ev_charger"),
    "doorbell": lambda h: _kind(h, "doorbell"),
    "intercom": lambda h: _kind(h, "intercom"),
    "mailbox": lambda h: h.has(
        lambda e: e.device_class == "opening" and "mailbox" in e.entity_id
    ),
    "conservatory": lambda h: has_area(h, "conservatory"),
}


def test_features_belong_to_their_types(by_type: dict[str, list[Drawn]]) -> None:
    seen = {
        feature: {name: share(homes, test) for name, homes in by_type.items()}
        for feature, test in FEATURES.items()
    }
    # Gardens' and roofs' equipment is for houses only.
    for feature in ("irrigation", "lawn_mower", "solar_or_ev"):
        assert all(seen[feature][name] == 0 for name in FLATS), seen[feature]
        assert max(seen[feature].values()) >= 0.15, seen[feature]
    # A condo with its own garden may have a pool (designed .02 x .08).
    assert all(seen["pool_pump"][name] <= 0.05 for name in FLATS), seen["pool_pump"]
    assert seen["pool_pump"]["townhouse"] == seen["pool_pump"]["cottage"] == 0
    # Pools are a ranch-house thing (designed .3, measured .28; others <= .1).
    assert seen["pool_pump"]["ranch_house"] >= 0.15, seen["pool_pump"]
    assert seen["pool_pump"]["ranch_house"] == max(seen["pool_pump"].values())
    # Garage doors: none in studios, few in apartments (.05), most ranch houses
    # (designed .85, measured .83), about half of large houses (.53, .55).
    garage = seen["garage_door"]
    assert garage["studio"] == 0, garage
    assert garage["apartment"] <= 0.12, garage
    assert garage["ranch_house"] >= 0.65, garage
    assert min(garage[n] for n in ("single_family_house", "multi_story")) >= 0.3
    # Shared-building features: an intercom or the building's mailbox in most
    # flats (designed .64, measured .59-.63), few houses (.0-.1), and the
    # mailbox and gates only in buildings (gates only in condos).
    shared = {
        name: share(homes, lambda h: FEATURES["intercom"](h) or FEATURES["mailbox"](h))
        for name, homes in by_type.items()
    }
    assert all(shared[name] >= 0.45 for name in FLATS), shared
    assert all(shared[name] <= 0.2 for name in HOUSES), shared
    assert all(seen["mailbox"][name] == 0 for name in HOUSES), seen["mailbox"]
    assert [n for n, s in seen["gate"].items() if s > 0] == ["condo"], seen["gate"]
    # Doorbells are at houses' doors (designed .35-.6, measured .3-.62; flats
    # designed <= .15, measured <= .11).
    assert all(seen["doorbell"][name] <= 0.3 for name in FLATS), seen["doorbell"]
    assert all(seen["doorbell"][name] >= 0.2 for name in HOUSES), seen["doorbell"]
    assert [n for n, s in seen["conservatory"].items() if s > 0] == ["cottage"]


def test_climate_zones_in_large_houses(by_type: dict[str, list[Drawn]]) -> None:
    # Several zones (a thermostat each): central heating in a large home with
    # several storeys. Measured: multi-storey .56, single-family .18, ranch .09,
    # townhouse .06, flats and cottages 0.
    zones = {
        name: share(
            homes, lambda h: sum(d.kind == "thermostat" for d in h.plan.devices) > 1
        )
        for name, homes in by_type.items()
    }
    assert zones["multi_story"] >= 0.35, zones
    assert zones["multi_story"] == max(zones.values()), zones
    assert all(zones[name] <= 0.05 for name in FLATS), zones
    for homes in by_type.values():
        for home in homes:
            thermostats = sum(d.kind == "thermostat" for d in home.plan.devices)
            assert thermostats in {0, home.plan.zones}


def test_protocols_and_power_sources(by_type: dict[str, list[Drawn]]) -> None:
    def mix(name: str, attribute: str) -> Counter[str]:
        return Counter(
            getattr(d, attribute) for h in by_type[name] for d in h.inventory.devices
        )

    # The type's region drives the radios: ranch houses are mostly American
    # (Z-Wave favoured), cottages mostly British and European (Zigbee).
    # Measured Z-Wave .19 vs .06, Zigbee .35 vs .57 of devices.
    ranch, cottage = mix("ranch_house", "protocol"), mix("cottage", "protocol")
    zwave = {
        n: c["z-wave"] / c.total() for n, c in (("ranch", ranch), ("cottage", cottage))
    }
    zigbee = {
        n: c["zigbee"] / c.total() for n, c in (("ranch", ranch), ("cottage", cottage))
    }
    assert zwave["ranch"] >= 1.8 * zwave["cottage"], zwave
    assert zigbee["cottage"] >= zigbee["ranch"] + 0.1, zigbee
    fahrenheit = {
        name: share(homes, lambda h: h.has(lambda e: e.unit == "°F"))
        for name, homes in by_type.items()
    }
    assert fahrenheit["ranch_house"] >= 0.55, fahrenheit  # designed .77, measured .72
    assert fahrenheit["cottage"] <= 0.3, fahrenheit  # designed .15, measured .13
    # Every type mixes battery and mains devices (battery .40-.46 of devices in
    # every type: the power source follows the device kinds, not the type), and
    # larger homes have more of both (medians studio 8 / 10, multi-storey 26.5 / 34).
    for name in HOME_TYPES:
        power = mix(name, "power_source")
        assert 0.3 <= power["battery"] / power.total() <= 0.6, (name, power)

    def median_of(name: str, source: str) -> float:
        return float(
            np.median(
                [
                    sum(d.power_source == source for d in h.inventory.devices)
                    for h in by_type[name]
                ]
            )
        )

    for source in ("battery", "mains"):
        assert 2 * median_of("studio", source) < median_of("multi_story", source)


# Type pairs next to each other in size. The share of one type's homes inside
# the other's central 80 % (10th-90th percentile) measured at seed 2026, areas /
# devices, both ways: by areas .12-.91 (.04 for apartments among studios at
# another seed), by devices .44-.91 (.21 at another seed).
NEIGHBOURS = (
    ("studio", "apartment"),
    ("apartment", "condo"),
    ("apartment", "townhouse"),
    ("condo", "townhouse"),
    ("townhouse", "single_family_house"),
    ("cottage", "single_family_house"),
    ("cottage", "ranch_house"),
    ("single_family_house", "ranch_house"),
    ("single_family_house", "multi_story"),
    ("townhouse", "multi_story"),
)


def _inside(
    homes: list[Drawn], others: list[Drawn], value: Callable[[Drawn], int]
) -> float:
    low, high = np.percentile([value(h) for h in others], [10, 90])
    return float(np.mean([low <= value(h) <= high for h in homes]))


def test_neighbouring_types_overlap(by_type: dict[str, list[Drawn]]) -> None:
    for a, b in NEIGHBOURS:
        for x, y in ((a, b), (b, a)):
            # A large apartment has as many areas as a small townhouse ...
            assert _inside(by_type[x], by_type[y], areas) >= 0.02, (x, y)
            # ... and device counts overlap widely.
            assert _inside(by_type[x], by_type[y], devices) >= 0.15, (x, y)
    # Types far apart do not: no studio has as many areas as a multi-storey home.
    assert _inside(by_type["studio"], by_type["multi_story"], areas) == 0


def inventory_features(inventory: Inventory) -> Counter[str]:
    """Return counts a model could read from the inventory alone."""
    counts: Counter[str] = Counter()
    for device in inventory.devices:
        counts[f"protocol:{device.protocol}"] += 1
        counts[f"power:{device.power_source}"] += 1
        for entity in device.entities:
            counts[f"domain:{entity.domain}"] += 1
            counts[f"class:{entity.domain}.{entity.device_class}"] += 1
            counts["fahrenheit"] += entity.unit == "°F"
    for entity in inventory.entities:
        counts[f"domain:{entity.domain}"] += 1
    for area in inventory.areas:
        counts[f"area:{area_kind(area.area_id)}"] += 1
    for floor in inventory.floors:
        counts[f"floor:{floor.floor_id}"] += 1
    levels = [f.level for f in inventory.floors if f.level is not None]
    counts["areas"] = len(inventory.areas)
    counts["devices"] = len(inventory.devices)
    counts["floors"] = len(inventory.floors)
    counts["lowest_level"] = min(levels, default=0)
    counts["highest_level"] = max(levels, default=0)
    return counts


def test_types_are_learnable_but_not_separable(drawn: list[Drawn]) -> None:
    features = [inventory_features(h.inventory) for h in drawn]
    names = sorted({name for f in features for name in f})
    x = np.array([[f[name] for name in names] for f in features], dtype=float)
    y = np.array([h.home_type for h in drawn])
    train = 384  # the first 384 homes; the other 256 are held out
    model = RandomForestClassifier(
        n_estimators=150, min_samples_leaf=2, random_state=0, n_jobs=1
    )
    model.fit(x[:train], y[:train])
    guess, truth = model.predict(x[train:]), y[train:]
    accuracy = float(np.mean(guess == truth))
    # Measured 0.70 on the 256 held-out homes (0.68 with the halves swapped,
    # 0.58-0.72 at other seeds); chance is 1/8, the largest class 0.15.
    assert 0.4 < accuracy < 0.85, accuracy
    # In a building or not is nearly always right (measured .99) ...
    flat = np.isin(guess, FLATS) == np.isin(truth, FLATS)
    assert flat.mean() >= 0.9, flat.mean()
    # ... and the mistakes are mostly between types people confuse (measured
    # .95: ranch houses and single-family houses, condos and apartments …).
    wrong = [(g, t) for g, t in zip(guess, truth, strict=True) if g != t]
    confused = np.mean([frozenset(pair) in CONFUSED for pair in wrong])
    assert confused >= 0.75, (confused, Counter(wrong).most_common(8))


def test_label_noise_flips_to_confusable_types() -> None:
    homes = 3000
    clean = GeneratorOptions(homes=homes, seed=31)
    noisy = GeneratorOptions(homes=homes, seed=31, label_noise=0.25)
    flips: dict[str, Counter[str]] = {name: Counter() for name in HOME_TYPES}
    flipped = 0
    for index in range(homes):
        true_type, label = draw_type(clean, index)
        assert label == true_type
        noisy_true, noisy_label = draw_type(noisy, index)
        assert noisy_true == true_type  # noise changes the label, not the home
        if noisy_label != true_type:
            flipped += 1
            flips[true_type][noisy_label] += 1
    # 0.25 requested; sd of the rate over 3000 homes is 0.008 (measured 0.25).
    assert abs(flipped / homes - 0.25) <= 0.04, flipped / homes
    for name, targets in flips.items():
        assert set(targets) == set(CONFUSABLE[name]), (name, targets)


def test_generated_labels_carry_the_noise() -> None:
    options = GeneratorOptions(homes=3, days=1, seed=5, label_noise=1.0)
    for index in range(options.homes):
        home = generate_home(options, index)
        true_type = home.labels.true_home_type
        assert true_type == draw_type(options, index)[0]
        assert true_type is not None
        assert home.labels.home_type in CONFUSABLE[true_type]
