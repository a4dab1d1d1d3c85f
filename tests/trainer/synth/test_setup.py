"""Homes as people set them up, and what HA records of them.

Shares over many drawn homes, as ranges: floors left out, few lights, devices
without an area, link-quality entities disabled, tamper and group entities,
plugs with nothing plugged in, HA down for a while (nothing recorded), and the
re-reports that an integration's export keeps.
"""

import numpy as np
import pyarrow as pa

from homeiq_trainer.synth.home import SyntheticHome
from homeiq_trainer.synth.streams import WORD, StreamSet, number_keys, word_keys

from .symptoms import HomeEvents


def _share(homes: list[SyntheticHome], test) -> float:
    return float(np.mean([bool(test(home)) for home in homes]))


def _entities(home: SyntheticHome):
    return [e for d in home.inventory.devices for e in d.entities]


def test_homes_are_set_up_sparsely(setup_homes: list[SyntheticHome]) -> None:
    assert 0.35 < _share(setup_homes, lambda h: not h.inventory.floors) < 0.8
    lights = [sum(e.domain == "light" for e in _entities(h)) for h in setup_homes]
    assert 0.15 < np.mean(np.array(lights) <= 2) < 0.6
    assert max(lights) >= 8
    radio = _share(
        setup_homes,
        lambda h: any(
            e.unit in {"lqi", "dBm"} or e.device_class == "signal_strength"
            for e in _entities(h)
        ),
    )
    assert 0.1 < radio < 0.6  # most homes leave them disabled
    no_area = _share(
        setup_homes,
        lambda h: any(d.area_id is None and d.entities for d in h.inventory.devices),
    )
    assert 0.2 < no_area < 0.7
    battery = [
        np.mean([d.power_source == "battery" for d in h.inventory.devices])
        for h in setup_homes
    ]
    assert np.mean(np.array(battery) > 0.7) > 0.05  # battery-heavy set-ups


def test_virtual_tamper_and_idle_devices_exist(
    setup_homes: list[SyntheticHome],
) -> None:
    groups = _share(
        setup_homes,
        lambda h: any(d.protocol == "unknown" for d in h.inventory.devices),
    )
    assert 0.05 < groups < 0.5
    tamper = _share(
        setup_homes, lambda h: any(e.device_class == "tamper" for e in _entities(h))
    )
    assert 0.05 < tamper < 0.6
    zero_plugs = 0
    for home in setup_homes:
        events = HomeEvents.of(home)
        for device in home.inventory.devices:
            for entity in device.entities:
                if entity.device_class == "power" and device.entities[0].domain == (
                    "switch"
                ):
                    _, states = events.rows(entity.entity_id)
                    live = states[~np.isin(states, ["unavailable", "unknown"])]
                    zero_plugs += len(live) > 0 and set(live.tolist()) == {"0.0"}
    assert zero_plugs >= 2


def test_outages_record_nothing(setup_homes: list[SyntheticHome]) -> None:
    with_gaps = [h for h in setup_homes if h.gaps]
    assert 0.05 < len(with_gaps) / len(setup_homes) < 0.5
    for home in with_gaps:
        times = home.events["last_updated"].cast(pa.int64()).to_numpy() / 1e6
        for start, end in home.gaps:
            assert home.start <= start < end <= home.end
            assert not ((times >= start) & (times < end - 1e-3)).any()
            if home.reports is not None:
                rep = home.reports.time
                assert not ((rep >= start) & (rep < end - 1e-3)).any()
            if end < home.end:  # HA writes every state anew when it is back
                assert (np.abs(times - end) < 1e-3).sum() > 5


def test_some_homes_keep_reports(setup_homes: list[SyntheticHome]) -> None:
    kept = [h for h in setup_homes if h.reports is not None]
    assert 0.1 < len(kept) / len(setup_homes) < 0.55
    for home in kept:
        entities, times = home.reports.entity_id, home.reports.time
        assert len(times) > 100
        assert np.all(np.diff(times) >= 0)
        assert np.all((times >= home.start) & (times < home.end))
        known = {e.entity_id for e in _entities(home)} | {
            e.entity_id for e in home.inventory.entities
        }
        assert set(entities.tolist()) <= known


def test_warnings_are_battery_codes_and_swaps(
    setup_homes: list[SyntheticHome],
) -> None:
    kinds = {w.kind for h in setup_homes for w in h.labels.warnings}
    assert kinds == {"low_battery_code", "battery_replaced"}
    for home in setup_homes:
        devices = {d.device_id for d in home.inventory.devices}
        for warning in home.labels.warnings:
            assert warning.device_id in devices
            assert home.start <= warning.time < home.end


def test_devices_name_their_integration_and_hub(
    setup_homes: list[SyntheticHome],
) -> None:
    domains = set()
    for home in setup_homes:
        devices = {d.device_id: d for d in home.inventory.devices}
        for device in devices.values():
            assert device.integration
            domains.add(device.integration)
            if device.protocol in {"zigbee", "z-wave"} and device.via_device is None:
                assert device.device_id.startswith("hub-")
            if device.via_device is not None:
                hub = devices[device.via_device]
                assert hub.integration == device.integration
                assert hub.via_device is None
    assert {"zha", "mqtt", "zwave_js", "hue", "group"} <= domains


def _streams(reports: bool = True) -> StreamSet:
    return StreamSet(["a", "b"], 100.0, np.zeros(2, bool), reports_wanted=reports)


def test_a_report_of_an_unchanged_state_is_no_row() -> None:
    streams = _streams()
    streams.add(0, np.array([1.0, 50.0]), word_keys("on", 2))
    streams.report(0, np.array([0.5, 10.0, 60.0]))  # the first precedes any state
    streams.report(1, np.array([5.0]))  # an entity without a state yet
    table = streams.finish(0)
    assert table.num_rows == 1
    entities, micros = streams.reports()
    assert entities.tolist() == [0, 0, 0]
    assert (micros / 1e6).tolist() == [10.0, 50.0, 60.0]


def test_reports_are_not_kept_unless_wanted() -> None:
    streams = _streams(reports=False)
    streams.add(0, np.array([1.0]), word_keys("on", 1))
    streams.report(0, np.array([10.0]))
    assert streams.finish(0).num_rows == 1
    assert len(streams.reports()[0]) == 0


def test_an_outage_drops_rows_and_rewrites_states_after() -> None:
    streams = _streams()
    streams.add(0, np.array([1.0, 20.0, 30.0]), number_keys(np.array([1, 2, 3.0]), 0))
    streams.add(1, np.array([2.0]), word_keys("off", 1))
    streams.report(1, np.array([25.0, 70.0]))
    streams.outage(15.0, 40.0)
    streams.outage(35.0, 45.0)  # overlapping: merged
    streams.outage(90.0, 200.0)  # to the window's end
    assert streams.outages == [(15.0, 45.0), (90.0, 200.0)]
    table = streams.finish(0)
    times = table["last_updated"].cast(pa.int64()).to_numpy() / 1e6
    ids = table["entity_id"].cast(pa.string()).to_pylist()
    states = table["state"].cast(pa.string()).to_pylist()
    rows = list(zip(times.tolist(), ids, states, strict=True))
    assert rows == [
        (1.0, "a", "1"),
        (2.0, "b", "off"),
        (45.0, "a", "3"),
        (45.0, "b", "off"),
    ]
    assert (streams.reports()[1] / 1e6).tolist() == [70.0]
    assert WORD["off"] >= 0


def test_an_outage_outside_the_window_changes_nothing() -> None:
    streams = _streams()
    streams.add(0, np.array([1.0, 20.0]), word_keys("on", 1).repeat(2))
    streams.outage(150.0, 200.0)
    table = streams.finish(0)
    assert table.num_rows == 1
    assert (streams.reports()[1] / 1e6).tolist() == [20.0]
