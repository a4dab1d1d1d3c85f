"""A home's events as integer columns, and their conversion to an Arrow table.

Device models hand over each entity's rows as arrays: times (seconds from the
window start), state keys and attribute keys. A state key is either the index of a
word (`WORDS`: "on", "unavailable" …) or an encoded number with its decimals
(`number_keys`), so a million readings become strings through one vectorised
formatting of the few thousand distinct values. Attribute keys encode the few
attribute shapes the generator writes (`light_attributes`, `climate_attributes` …).

`StreamSet.finish` then does what Home Assistant's state machine and recorder do:
unavailable intervals (a device dropping off, HA restarting) replace rows and
restore the last state afterwards, writes that change nothing are dropped (they
are HA's `state_reported` re-reports: kept apart, with the check-ins, as the
reports stream), nothing is recorded while HA itself is down (observation gaps;
at the end of one HA writes every entity's state anew), `last_changed` follows
the last real change, and the rows are merged by time.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from homeiq_trainer.dataset import EVENT_SCHEMA, TIME_TYPE

WORDS = (
    "unavailable",
    "unknown",
    "on",
    "off",
    "home",
    "not_home",
    "open",
    "closed",
    "opening",
    "closing",
    "locked",
    "unlocked",
    "playing",
    "paused",
    "idle",
    "heat",
    "cool",
    "heat_cool",
    "mowing",
    "docked",
    "returning",
    "error",
    "cleaning",
    "above_horizon",
    "below_horizon",
    "sunny",
    "partlycloudy",
    "cloudy",
    "rainy",
    "pouring",
    "snowy",
    "fog",
    "clear-night",
    "charging",
    "connected",
    "disconnected",
)
WORD = {word: key for key, word in enumerate(WORDS)}
UNAVAILABLE = WORD["unavailable"]
UNKNOWN = WORD["unknown"]
REPORT = -2  # a row that re-reports the entity's state (no key of its own)

_NUMBER = np.int64(1) << 60
_DECIMALS_SHIFT = 52
_VALUE_OFFSET = np.int64(1) << 51
_VALUE_MASK = (np.int64(1) << _DECIMALS_SHIFT) - 1

NO_ATTRIBUTES = -1
_KIND_SHIFT = 56
_LIGHT, _CLIMATE, _MEDIA, _WEATHER = 1, 2, 3, 4
HVAC_ACTIONS = ("idle", "heating", "cooling", "off")
_OFFSET24 = 1 << 23


def word_keys(word: str, n: int) -> np.ndarray:
    """Return `n` state keys of `word`."""
    return np.full(n, WORD[word], dtype=np.int64)


def number_keys(values: np.ndarray, decimals: int) -> np.ndarray:
    """Return state keys for `values` rounded to `decimals` places (0 to 3)."""
    quantised = np.round(np.asarray(values, dtype=np.float64) * 10.0**decimals)
    return (
        _NUMBER
        + (np.int64(decimals) << _DECIMALS_SHIFT)
        + quantised.astype(np.int64)
        + _VALUE_OFFSET
    )


def light_attributes(brightness: np.ndarray) -> np.ndarray:
    """Return attribute keys for `{"brightness": b}` (b in 0..255)."""
    return (np.int64(_LIGHT) << _KIND_SHIFT) + np.asarray(brightness, dtype=np.int64)


def climate_attributes(
    current: np.ndarray, target: np.ndarray, action: np.ndarray
) -> np.ndarray:
    """Return attribute keys for a climate entity (temperatures to 0.1).

    `action` indexes `HVAC_ACTIONS`.
    """
    cur = np.round(np.asarray(current) * 10).astype(np.int64) + _OFFSET24
    tgt = np.round(np.asarray(target) * 10).astype(np.int64) + _OFFSET24
    return (
        (np.int64(_CLIMATE) << _KIND_SHIFT)
        + (np.asarray(action, dtype=np.int64) << 48)
        + (cur << 24)
        + tgt
    )


def media_attributes(volume: np.ndarray) -> np.ndarray:
    """Return attribute keys for `{"volume_level": v}` (v in 0..1, to 0.01)."""
    level = np.round(np.asarray(volume) * 100).astype(np.int64)
    return (np.int64(_MEDIA) << _KIND_SHIFT) + level


def weather_attributes(temperature: np.ndarray, humidity: np.ndarray) -> np.ndarray:
    """Return attribute keys for a weather entity (temperature to 0.1, humidity %)."""
    temp = np.round(np.asarray(temperature) * 10).astype(np.int64) + _OFFSET24
    hum = np.round(np.asarray(humidity)).astype(np.int64)
    return (np.int64(_WEATHER) << _KIND_SHIFT) + (temp << 24) + hum


_WORDS = pa.array(WORDS, pa.string())
_HVAC_ACTIONS = pa.array(HVAC_ACTIONS, pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _fixed(quantised: np.ndarray, places: int) -> pa.Array:
    """Return the text of integers `quantised` / 10**`places` with `places` decimals."""
    magnitude = np.abs(quantised)
    scale = 10**places
    text = pa.array(magnitude // scale).cast(pa.string())
    if places:
        fraction = pa.array(magnitude % scale).cast(pa.string())
        text = _join(text, ".", pc.utf8_lpad(fraction, width=places, padding="0"))
    return _join(pa.array(np.where(quantised < 0, "-", ""), pa.string()), text)


def _in_order(parts: list[pa.Array], positions: list[np.ndarray], n: int) -> pa.Array:
    """Return the texts `parts`, each for its `positions`, as one array of `n`."""
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate(positions)] = np.arange(n)
    return pa.concat_arrays(parts).take(pa.array(order))


def state_strings(keys: np.ndarray) -> pa.Array:
    """Return the state strings of `keys`, formatted without a loop per key.

    Numbers read like Python's str(float) of the rounded value: "21.5", not
    "21.50", and "21.0" for a whole number with decimals.
    """
    keys = np.asarray(keys, dtype=np.int64)
    is_word = keys < _NUMBER
    parts = [_WORDS.take(pa.array(keys[is_word]))]
    positions = [np.flatnonzero(is_word)]
    numbers = np.flatnonzero(~is_word)
    rest = keys[numbers] - _NUMBER
    quantised = (rest & _VALUE_MASK) - _VALUE_OFFSET
    places = rest >> _DECIMALS_SHIFT
    for _ in range(2):  # drop trailing zeros beyond the first decimal
        trailing = (places > 1) & (quantised % 10 == 0)
        quantised = np.where(trailing, quantised // 10, quantised)
        places = places - trailing
    for count in np.unique(places).tolist():
        chosen = places == count
        parts.append(_fixed(quantised[chosen], count))
        positions.append(numbers[chosen])
    return _in_order(parts, positions, len(keys))


def _tenths(values: np.ndarray) -> pa.Array:
    return _fixed(values - _OFFSET24, 1)


def _json_of_kind(kind: int, payload: np.ndarray) -> pa.Array:
    low24 = (1 << 24) - 1
    if kind == _LIGHT:
        return _join('{"brightness":', pa.array(payload).cast(pa.string()), "}")
    if kind == _CLIMATE:
        return _join(
            '{"current_temperature":',
            _tenths((payload >> 24) & low24),
            ',"temperature":',
            _tenths(payload & low24),
            ',"hvac_action":"',
            _HVAC_ACTIONS.take(pa.array(payload >> 48)),
            '"}',
        )
    if kind == _MEDIA:
        return _join('{"volume_level":', _fixed(payload, 2), "}")
    return _join(
        '{"temperature":',
        _tenths(payload >> 24),
        ',"humidity":',
        pa.array(payload & low24).cast(pa.string()),
        "}",
    )


def attribute_strings(keys: np.ndarray) -> pa.Array:
    """Return the JSON texts of distinct attribute `keys` (none of them -1)."""
    keys = np.asarray(keys, dtype=np.int64)
    kinds = keys >> _KIND_SHIFT
    payloads = keys & ((1 << _KIND_SHIFT) - 1)
    parts, positions = [pa.array([], pa.string())], [np.zeros(0, dtype=np.int64)]
    for kind in np.unique(kinds).tolist():
        chosen = np.flatnonzero(kinds == kind)
        parts.append(_json_of_kind(kind, payloads[chosen]))
        positions.append(chosen)
    return _in_order(parts, positions, len(keys))


class _Rows(NamedTuple):
    ent: np.ndarray
    t: np.ndarray  # µs from the window start
    state: np.ndarray
    attr: np.ndarray


@dataclass
class StreamSet:
    """Collects one home's entity rows and unavailable intervals."""

    entity_ids: list[str]
    window: float  # seconds
    restores_unknown: np.ndarray  # per entity: True when a restart leaves "unknown"
    _ents: list[np.ndarray] = field(default_factory=list)
    _times: list[np.ndarray] = field(default_factory=list)
    _states: list[np.ndarray] = field(default_factory=list)
    _attrs: list[np.ndarray] = field(default_factory=list)
    _gaps: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )
    reports_wanted: bool = False  # keep the re-reports (an integration's export)
    _restart_ends: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _outages: list[tuple[float, float]] = field(default_factory=list)
    _reported: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )

    def restarts(
        self, entities: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> None:
        """Record HA's restarts (before any row is added): `entities` go away.

        Entities that do not restore their state read "unknown" after each.
        """
        self.unavailable(entities, starts, ends, restart=True)
        self._restart_ends = np.sort(np.asarray(ends, dtype=np.float64))

    def report(self, entity: int, times: np.ndarray) -> None:
        """Add re-reports of `entity`'s current state (no row unless it changed)."""
        if self.reports_wanted and len(times):
            self.add(entity, times, np.full(len(times), REPORT, dtype=np.int64))

    def outage(self, start: float, end: float) -> None:
        """Record nothing over [start, end): Home Assistant itself was down."""
        self._outages.append((float(start), float(end)))

    @property
    def outages(self) -> list[tuple[float, float]]:
        """Return the observation gaps (seconds from the window start), merged."""
        merged: list[tuple[float, float]] = []
        for start, end in sorted(self._outages):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def reports(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the re-reports kept by `finish`: entity indices, µs from start."""
        return self._reported

    def add(
        self,
        entity: int,
        times: np.ndarray,
        states: np.ndarray,
        attributes: np.ndarray | None = None,
    ) -> None:
        """Add rows of one entity; `times` must be sorted (seconds)."""
        n = len(times)
        if not n:
            return
        times = np.asarray(times, dtype=np.float64)
        states = np.asarray(states, dtype=np.int64)
        attrs = (
            np.full(n, NO_ATTRIBUTES, dtype=np.int64)
            if attributes is None
            else np.asarray(attributes, dtype=np.int64)
        )
        # A write that repeats the one before it changes nothing: HA keeps it as
        # a re-report at most, so it goes now rather than through all that
        # follows. Only the first write after a restart is kept: it replaces
        # the "unknown" that a restart leaves.
        repeat = np.empty(n, dtype=bool)
        repeat[0] = False
        np.equal(states[1:], states[:-1], out=repeat[1:])
        if attributes is not None:
            repeat[1:] &= attrs[1:] == attrs[:-1]
        if self.restores_unknown[entity] and len(self._restart_ends):
            first = np.searchsorted(times, self._restart_ends)
            repeat[first[first < n]] = False
        if self.reports_wanted:
            states = np.where(repeat, REPORT, states)
        elif repeat.any():
            keep = ~repeat
            times, states, attrs = times[keep], states[keep], attrs[keep]
            n = len(times)
        self._ents.append(np.full(n, entity, dtype=np.int64))
        self._times.append(times)
        self._states.append(states)
        self._attrs.append(attrs)

    def unavailable(
        self,
        entities: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        *,
        restart: bool = False,
    ) -> None:
        """Make each of `entities` unavailable over every [start, end) interval.

        Rows inside are dropped; "unavailable" is written at the start and the
        last state restored at the end (or "unknown" for entities that do not
        restore after a restart, when `restart`).
        """
        entities = np.asarray(entities, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.float64)
        ends = np.asarray(ends, dtype=np.float64)
        if not len(entities) or not len(starts):
            return
        ent = np.repeat(entities, len(starts))
        flag = self.restores_unknown[ent] & restart
        self._gaps.append(
            (ent, np.tile(starts, len(entities)), np.tile(ends, len(entities)), flag)
        )

    def finish(self, start_us: int) -> pa.Table:
        """Return the events as an Arrow table in the dataset's event schema."""
        window_us = round(self.window * 1e6)
        shift = max(int(window_us).bit_length() + 1, 1)
        ent, t, state, attr = _fill_reports(*_sorted(*self._rows(window_us), shift))
        ent, t, state, attr = self._apply_gaps(
            _Rows(ent, t, state, attr), shift, window_us
        )
        ent, t, state, attr = self._apply_outages(
            _Rows(ent, t, state, attr), shift, window_us
        )
        # Drop writes that change nothing, as HA's state machine does.
        same_entity = np.empty(len(ent), dtype=bool)
        same_entity[:1] = False
        np.equal(ent[1:], ent[:-1], out=same_entity[1:])
        keep = ~(
            same_entity
            & np.r_[False, state[1:] == state[:-1]]
            & np.r_[False, attr[1:] == attr[:-1]]
        )
        if self._outages:  # HA back from an outage writes every state anew
            back = [round(end * 1e6) for _, end in self.outages]
            keep |= np.isin(t, back)
        if self.reports_wanted:
            order = np.argsort(t[~keep], kind="stable")
            self._reported = (ent[~keep][order], t[~keep][order])
        ent, t, state, attr = ent[keep], t[keep], state[keep], attr[keep]
        same_entity = same_entity[keep]
        # A row whose state differs from the entity's previous one is a change.
        changed = ~same_entity | np.r_[True, state[1:] != state[:-1]]
        last_change = np.maximum.accumulate(np.where(changed, np.arange(len(t)), 0))
        changed_at = t[last_change]
        order = np.argsort(t, kind="stable")
        return self._table(
            _Rows(ent[order], t[order], state[order], attr[order]),
            changed_at[order],
            start_us,
        )

    def _rows(
        self, window_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self._ents:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        # Entity by entity: the rows come out sorted by (entity, time) already.
        parts = sorted(range(len(self._ents)), key=lambda i: int(self._ents[i][0]))
        ent = np.concatenate([self._ents[i] for i in parts])
        t = (np.concatenate([self._times[i] for i in parts]) * 1e6).astype(np.int64)
        state = np.concatenate([self._states[i] for i in parts])
        attr = np.concatenate([self._attrs[i] for i in parts])
        inside = (t >= 0) & (t < window_us)
        return ent[inside], t[inside], state[inside], attr[inside]

    def _apply_gaps(
        self, rows: _Rows, shift: int, window_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ent, t, state, attr = rows
        key = (ent << shift) | t
        if len(key) > 1 and (key[1:] < key[:-1]).any():
            order = np.argsort(key, kind="stable")
            ent, t, state, attr, key = (
                ent[order],
                t[order],
                state[order],
                attr[order],
                key[order],
            )
        if not self._gaps:
            return ent, t, state, attr
        g_ent = np.concatenate([g[0] for g in self._gaps])
        g_start = np.clip(
            np.concatenate([g[1] for g in self._gaps]) * 1e6, 0, window_us
        ).astype(np.int64)
        g_end = np.clip(
            np.concatenate([g[2] for g in self._gaps]) * 1e6, 0, window_us
        ).astype(np.int64)
        g_flag = np.concatenate([g[3] for g in self._gaps])
        valid = g_end > g_start
        if not valid.any():
            return ent, t, state, attr
        g_ent, g_start, g_end, g_flag = (
            g_ent[valid],
            g_start[valid],
            g_end[valid],
            g_flag[valid],
        )
        g_ent, g_start, g_end, g_flag = _merge_intervals(
            g_ent, g_start, g_end, g_flag, shift
        )
        start_key = (g_ent << shift) | g_start
        end_key = (g_ent << shift) | g_end
        # The intervals are disjoint and sorted: rows from each start (included)
        # to its end (excluded) are inside; count the open intervals row by row.
        opens = np.bincount(np.searchsorted(key, start_key), minlength=len(key) + 1)
        opens -= np.bincount(np.searchsorted(key, end_key), minlength=len(key) + 1)
        inside = np.cumsum(opens[:-1]) > 0
        ent, t, state, attr, key = (
            ent[~inside],
            t[~inside],
            state[~inside],
            attr[~inside],
            key[~inside],
        )
        # The state before each interval, restored at its end.
        before = np.searchsorted(key, start_key, side="left") - 1
        has_before = before >= 0
        has_before[has_before] = ent[before[has_before]] == g_ent[has_before]
        # Index 0 of the padded columns stands for "no row before".
        pick = np.where(has_before, before + 1, 0)
        restore_state = np.r_[UNKNOWN, state][pick]
        restore_attr = np.r_[NO_ATTRIBUTES, attr][pick]
        restore_state = np.where(g_flag, UNKNOWN, restore_state)
        restore_attr = np.where(g_flag, NO_ATTRIBUTES, restore_attr)
        back = g_end < window_us
        new_ent = np.concatenate([g_ent, g_ent[back]])
        new_t = np.concatenate([g_start, g_end[back]])
        new_state = np.concatenate(
            [np.full(len(g_ent), UNAVAILABLE, dtype=np.int64), restore_state[back]]
        )
        new_attr = np.concatenate(
            [np.full(len(g_ent), NO_ATTRIBUTES, dtype=np.int64), restore_attr[back]]
        )
        # Insert the new rows in place; a restore goes before a real row at its time.
        new_key = (new_ent << shift) | new_t
        order = np.argsort(new_key, kind="stable")
        at = np.searchsorted(key, new_key[order], side="left")
        return (
            np.insert(ent, at, new_ent[order]),
            np.insert(t, at, new_t[order]),
            np.insert(state, at, new_state[order]),
            np.insert(attr, at, new_attr[order]),
        )

    def _apply_outages(
        self, rows: _Rows, shift: int, window_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Drop what falls in HA's outages; write every state anew after each."""
        ent, t, state, attr = rows
        for start, end in self.outages:  # a handful per home
            start_us, end_us = round(start * 1e6), round(end * 1e6)
            if end_us <= 0 or start_us >= window_us:
                continue
            key = (ent << shift) | t
            entities = np.unique(ent)
            last = np.searchsorted(key, (entities << shift) | end_us) - 1
            seen = last >= 0
            seen[seen] = ent[last[seen]] == entities[seen]
            real = seen
            inside = (t >= start_us) & (t < end_us)
            new_t = np.full(int(real.sum()), end_us, dtype=np.int64)
            at = np.searchsorted(key[~inside], (entities[real] << shift) | end_us)
            ent, t, state, attr = (
                np.insert(ent[~inside], at, entities[real]),
                np.insert(t[~inside], at, new_t),
                np.insert(state[~inside], at, state[last[real]]),
                np.insert(attr[~inside], at, attr[last[real]]),
            )
            if end_us >= window_us:
                keep = t < window_us
                ent, t, state, attr = ent[keep], t[keep], state[keep], attr[keep]
        return ent, t, state, attr

    def _table(self, rows: _Rows, changed: np.ndarray, start_us: int) -> pa.Table:
        ent, updated, state, attr = rows
        entity_ids = pa.DictionaryArray.from_arrays(
            pa.array(ent.astype(np.int32)), pa.array(self.entity_ids, pa.string())
        )
        encoded = pc.dictionary_encode(pa.array(state))
        # Two keys can read the same ("21.5" to one or two decimals): a Parquet
        # dictionary must be unique (duplicates make the writer's bytes vary).
        texts = pc.dictionary_encode(state_strings(encoded.dictionary.to_numpy()))
        states = pa.DictionaryArray.from_arrays(
            texts.indices.take(encoded.indices), texts.dictionary
        )
        has_attr = attr != NO_ATTRIBUTES
        if has_attr.any():
            encoded = pc.dictionary_encode(pa.array(attr, mask=~has_attr))
            attributes = pa.DictionaryArray.from_arrays(
                encoded.indices,
                attribute_strings(encoded.dictionary.to_numpy()),
            )
        else:
            attributes = pa.DictionaryArray.from_arrays(
                pa.nulls(len(attr), pa.int32()), pa.array([], pa.string())
            )
        return pa.table(
            [
                entity_ids,
                states,
                attributes,
                pa.array(changed + start_us, TIME_TYPE),
                pa.array(updated + start_us, TIME_TYPE),
            ],
            schema=EVENT_SCHEMA,
        )


def _sorted(
    ent: np.ndarray, t: np.ndarray, state: np.ndarray, attr: np.ndarray, shift: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the rows sorted by (entity, time), ties in the order added."""
    key = (ent << shift) | t
    if len(key) > 1 and (key[1:] < key[:-1]).any():
        order = np.argsort(key, kind="stable")
        return ent[order], t[order], state[order], attr[order]
    return ent, t, state, attr


def _fill_reports(
    ent: np.ndarray, t: np.ndarray, state: np.ndarray, attr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Give each re-report the state its entity shows then (drop any before one).

    A filled re-report repeats the row before it, so the state machine's rule
    (drop writes that change nothing) turns it into a report, not a row.
    """
    is_report = state == REPORT
    if not is_report.any():
        return ent, t, state, attr
    last_real = np.maximum.accumulate(np.where(is_report, -1, np.arange(len(state))))
    at = np.maximum(last_real, 0)
    orphan = is_report & ((last_real < 0) | (ent[at] != ent))
    state = np.where(is_report, state[at], state)
    attr = np.where(is_report, attr[at], attr)
    keep = ~orphan
    return ent[keep], t[keep], state[keep], attr[keep]


def _merge_intervals(
    ent: np.ndarray, start: np.ndarray, end: np.ndarray, flag: np.ndarray, shift: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping intervals of the same entity (sorted by entity, start)."""
    if not len(ent):
        return ent, start, end, flag
    order = np.lexsort((start, ent))
    ent, start, end, flag = ent[order], start[order], end[order], flag[order]
    end_key = (ent << shift) | end
    reach = np.maximum.accumulate(end_key)
    start_key = (ent << shift) | start
    new_group = np.r_[True, start_key[1:] > reach[:-1]]
    group = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)
    merged_end = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(merged_end, group, end)
    merged_flag = np.zeros(len(first), dtype=bool)
    np.logical_or.at(merged_flag, group, flag)
    return ent[first], start[first], merged_end, merged_flag
