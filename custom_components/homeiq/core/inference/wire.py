"""The Protocol Buffers wire format, read with bounds checks and numpy fast paths.

ONNX files are protobuf messages. This reader decodes them without the protobuf or
onnx packages: a message is read field by field against a small schema (`Field`),
and the long repeated numeric fields that tree ensembles carry (tens of thousands of
node ids and thresholds) are decoded with numpy, whether they are packed or, as
ONNX's proto2 attributes are, written as one tagged record per element.

Every length and offset is checked against the enclosing message before it is used,
and the work spent on one file is capped (`limits.MAX_DECODE_STEPS`), so a hostile
file costs a bounded fraction of a second and raises `ModelError`, never anything else.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, auto
import struct
from typing import Any, cast

import numpy as np

from .errors import ModelError
from .limits import MAX_DECODE_STEPS

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAX_VARINT_BYTES = 10
# Decode a run in Python for this many elements before switching to numpy, so that
# short runs skip numpy's per-call overhead.
_PYTHON_RUN = 8
_FIRST_WINDOW = 512
# Decoder steps charged for one vectorised window, whatever its size.
_WINDOW_COST = 32


class Kind(Enum):
    """How a field's payload is decoded."""

    INT = auto()  # one int64 (varint)
    FLOAT = auto()  # one float32 (fixed32)
    BYTES = auto()  # one byte string
    MESSAGE = auto()  # one embedded message, returned as its (start, end) span
    INTS = auto()  # repeated int64, packed or not, as an int64 array
    FLOATS = auto()  # repeated float32, packed or not, as a float32 array
    DOUBLES = auto()  # repeated float64, packed or not, as a float64 array
    BYTES_LIST = auto()  # repeated byte strings
    MESSAGES = auto()  # repeated embedded messages, as a list of spans


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message schema: the attribute name it decodes to and its kind."""

    name: str
    kind: Kind


type Schema = Mapping[int, Field]
type Span = tuple[int, int]

_REPEATED = {Kind.INTS, Kind.FLOATS, Kind.DOUBLES, Kind.BYTES_LIST, Kind.MESSAGES}
_WIRE_TYPE = {
    Kind.INT: VARINT,
    Kind.FLOAT: I32,
    Kind.BYTES: LEN,
    Kind.MESSAGE: LEN,
    Kind.BYTES_LIST: LEN,
    Kind.MESSAGES: LEN,
}
_FIXED: dict[Kind, tuple[int, int, np.dtype[Any]]] = {
    Kind.FLOATS: (I32, 4, np.dtype("<f4")),
    Kind.DOUBLES: (I64, 8, np.dtype("<f8")),
}


def _signed(value: int) -> int:
    """Return the int64 that a varint's 64 bits encode."""
    return value - (1 << 64) if value & _SIGN64 else value


class Reader:
    """Decodes messages from one immutable buffer, charging every step to a budget."""

    def __init__(self, data: bytes, *, max_steps: int = MAX_DECODE_STEPS) -> None:
        """Read from `data`, spending at most `max_steps` decoding steps on it."""
        self.data = data
        self.u8 = np.frombuffer(data, dtype=np.uint8)
        self.steps = 0
        self.max_steps = max_steps

    # -- budget and errors -------------------------------------------------------

    def charge(self, steps: int) -> None:
        """Spend `steps` of the budget; refuse the file once it is exhausted."""
        self.steps += steps
        if self.steps > self.max_steps:
            raise ModelError(
                f"model is too complex to decode (over {self.max_steps:,} fields)"
            )

    def _overrun(self, pos: int, end: int) -> ModelError:
        """Return the error for a field that needs bytes up to `pos` beyond `end`."""
        if pos > len(self.data):
            return ModelError(f"file truncated at byte {len(self.data)}")
        return ModelError(f"malformed field: it overruns its message at byte {end}")

    # -- scalars -----------------------------------------------------------------

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        """Return the unsigned varint at `pos` and the position after it."""
        data = self.data
        if pos >= end:
            raise self._overrun(pos + 1, end)
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
        result = byte & 0x7F
        shift = 7
        start = pos
        pos += 1
        while True:
            if pos >= end:
                raise self._overrun(pos + 1, end)
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result & _MASK64, pos
            shift += 7
            if pos - start >= _MAX_VARINT_BYTES:
                raise ModelError(f"malformed varint at byte {start}")

    def _length(self, pos: int, end: int) -> tuple[int, int]:
        """Return the (start, end) span of the length-delimited payload at `pos`."""
        length, pos = self.varint(pos, end)
        if pos + length > end:
            raise self._overrun(pos + length, end)
        return pos, pos + length

    def skip(self, wire_type: int, pos: int, end: int, field_start: int) -> int:
        """Return the position after an unknown field's payload."""
        if wire_type == VARINT:
            return self.varint(pos, end)[1]
        if wire_type == LEN:
            return self._length(pos, end)[1]
        size = {I64: 8, I32: 4}.get(wire_type)
        if size is None:
            raise ModelError(f"invalid wire type {wire_type} at byte {field_start}")
        if pos + size > end:
            raise self._overrun(pos + size, end)
        return pos + size

    # -- messages ----------------------------------------------------------------

    def message(self, span: Span, schema: Schema) -> dict[str, object]:
        """Decode the message in `span`; unknown fields are skipped.

        Scalars that appear more than once keep their last value, as protobuf does.
        Repeated fields absent from the message are absent from the result.
        """
        start, end = span
        out: dict[str, object] = {}
        lists: dict[str, list[object]] = {}
        pos = start
        while pos < end:
            self.charge(1)
            field_start = pos
            key, pos = self.varint(pos, end)
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise ModelError(f"invalid field number 0 at byte {field_start}")
            field = schema.get(number)
            if field is None:
                pos = self.skip(wire_type, pos, end, field_start)
                continue
            kind = field.kind
            if kind in _REPEATED:
                pos = self._repeated(
                    field, key=key, wire_type=wire_type, pos=pos, end=end, lists=lists
                )
                continue
            if wire_type != _WIRE_TYPE[kind]:
                raise ModelError(
                    f"field '{field.name}' has wire type {wire_type} at byte "
                    f"{field_start}"
                )
            if kind is Kind.INT:
                value, pos = self.varint(pos, end)
                out[field.name] = _signed(value)
            elif kind is Kind.FLOAT:
                if pos + 4 > end:
                    raise self._overrun(pos + 4, end)
                out[field.name] = struct.unpack_from("<f", self.data, pos)[0]
                pos += 4
            else:
                payload = self._length(pos, end)
                pos = payload[1]
                out[field.name] = (
                    self.data[payload[0] : payload[1]]
                    if kind is Kind.BYTES
                    else payload
                )
        for name, parts in lists.items():
            out[name] = _join(parts)
        return out

    def _repeated(
        self,
        field: Field,
        *,
        key: int,
        wire_type: int,
        pos: int,
        end: int,
        lists: dict[str, list[object]],
    ) -> int:
        """Decode one occurrence (or a run of them) of a repeated field."""
        parts = lists.setdefault(field.name, [])
        kind = field.kind
        if kind in {Kind.BYTES_LIST, Kind.MESSAGES}:
            if wire_type != LEN:
                raise ModelError(f"field '{field.name}' has wire type {wire_type}")
            if kind is Kind.MESSAGES:
                payload = self._length(pos, end)
                parts.append(payload)
                return payload[1]
            return self._bytes_run(key, pos, end, parts)
        if wire_type == LEN:  # packed
            payload = self._length(pos, end)
            parts.append(self._packed(kind, payload))
            return payload[1]
        if kind is Kind.INTS:
            if wire_type != VARINT:
                raise ModelError(f"field '{field.name}' has wire type {wire_type}")
            return self._varint_run(key, pos, end, parts)
        if wire_type != _FIXED[kind][0]:
            raise ModelError(f"field '{field.name}' has wire type {wire_type}")
        return self._fixed_run(key, kind, pos, end, parts)

    def _bytes_run(self, key: int, pos: int, end: int, parts: list[object]) -> int:
        """Decode consecutive records of one repeated bytes field."""
        data = self.data
        append = parts.append
        start, pos = self._length(pos, end)
        append(data[start:pos])
        if key >= 0x80:
            return pos
        # The loop below is the hot path for tree ensembles' nodes_modes (one short
        # string per node), so it inlines one-byte lengths and charges the budget once.
        count = 0
        allowed = self.max_steps - self.steps
        while pos < end and data[pos] == key:
            count += 1
            if count > allowed:
                break
            length = data[pos + 1] if pos + 1 < end else 0x80
            if length < 0x80 and pos + 2 + length <= end:
                pos += 2
                append(data[pos : pos + length])
                pos += length
            else:
                start, pos = self._length(pos + 1, end)
                append(data[start:pos])
        self.charge(count)
        return pos

    def _packed(self, kind: Kind, span: Span) -> np.ndarray:
        """Decode a packed repeated numeric payload."""
        start, end = span
        self.charge(_WINDOW_COST)
        if kind is Kind.INTS:
            region = self.u8[start:end]
            ends = np.flatnonzero(region < 0x80)
            if region.size and (ends.size == 0 or ends[-1] != region.size - 1):
                raise ModelError(f"malformed packed varints at byte {start}")
            starts = np.empty_like(ends)
            starts[:1] = 0
            starts[1:] = ends[:-1] + 1
            if ends.size and int((ends - starts).max()) >= _MAX_VARINT_BYTES:
                raise ModelError(f"malformed varint at byte {start}")
            return _decode_varints(region, starts, ends)
        _, size, dtype = _FIXED[kind]
        if (end - start) % size:
            raise ModelError(f"malformed packed array at byte {start}")
        return np.frombuffer(
            self.data, dtype=dtype, count=(end - start) // size, offset=start
        ).astype(dtype.newbyteorder("="))

    def _varint_run(self, key: int, pos: int, end: int, parts: list[object]) -> int:
        """Decode a run of unpacked varint records sharing one tag (numpy past 8)."""
        data = self.data
        first, pos = self.varint(pos, end)
        values = [first]
        if key >= 0x80:  # multi-byte tags take the plain path, one record at a time
            parts.append(np.array([_signed(first)], dtype=np.int64))
            return pos
        while len(values) < _PYTHON_RUN and pos < end and data[pos] == key:
            self.charge(1)
            value, pos = self.varint(pos + 1, end)
            values.append(value)
        parts.append(np.array(values, dtype=np.uint64).view(np.int64))
        window = _FIRST_WINDOW
        while len(values) == _PYTHON_RUN and pos < end and data[pos] == key:
            self.charge(_WINDOW_COST)
            stop = min(end, pos + window)
            region = self.u8[pos:stop]
            ends = np.flatnonzero(region < 0x80)
            pairs = ends.size // 2
            if pairs == 0:
                break
            tag_end = ends[0 : 2 * pairs : 2]
            value_end = ends[1 : 2 * pairs : 2]
            tag_start = np.empty_like(tag_end)
            tag_start[0] = 0
            tag_start[1:] = value_end[:-1] + 1
            good = (
                (tag_end == tag_start)
                & (region[tag_start] == key)
                & (value_end - tag_end <= _MAX_VARINT_BYTES)
            )
            bad = np.flatnonzero(~good)
            count = int(bad[0]) if bad.size else pairs
            if count == 0:
                break
            parts.append(
                _decode_varints(region, tag_end[:count] + 1, value_end[:count])
            )
            pos += int(value_end[count - 1]) + 1
            if count < pairs or stop == end:
                break
            window *= 2
        return pos

    def _fixed_run(
        self, key: int, kind: Kind, pos: int, end: int, parts: list[object]
    ) -> int:
        """Decode a run of unpacked fixed-width records sharing a one-byte tag."""
        _, size, dtype = _FIXED[kind]
        if pos + size > end:
            raise self._overrun(pos + size, end)
        parts.append(np.frombuffer(self.data, dtype=dtype, count=1, offset=pos))
        pos += size
        if key >= 0x80:
            return pos
        stride = size + 1
        window = _FIRST_WINDOW
        while pos < end and self.data[pos] == key:
            self.charge(_WINDOW_COST)
            records = min(end - pos, window * stride) // stride
            if records == 0:
                break
            block = self.u8[pos : pos + records * stride].reshape(records, stride)
            bad = np.flatnonzero(block[:, 0] != key)
            count = int(bad[0]) if bad.size else records
            parts.append(np.ascontiguousarray(block[:count, 1:]).view(dtype).ravel())
            pos += count * stride
            if count < records:
                break
            window *= 2
        return pos


def _decode_varints(
    region: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Return the int64 values of the varints at region[starts[i] : ends[i] + 1]."""
    lengths = ends - starts + 1
    values = (region[starts] & 0x7F).astype(np.uint64)
    longer = np.flatnonzero(lengths > 1)
    shift = 1
    while longer.size:  # one pass per byte of the longest varint (at most 10)
        byte = (region[starts[longer] + shift] & 0x7F).astype(np.uint64)
        values[longer] |= byte << np.uint64(7 * shift)
        shift += 1
        longer = longer[lengths[longer] > shift]
    signed: np.ndarray = values.view(np.int64)
    return signed


def _join(parts: list[object]) -> object:
    """Concatenate the decoded pieces of one repeated field."""
    if not parts or not isinstance(parts[0], np.ndarray):
        return parts
    if len(parts) == 1:
        return parts[0].astype(parts[0].dtype.newbyteorder("="), copy=True)
    # A numeric field's pieces are all arrays: one field has one kind.
    arrays = cast("list[np.ndarray]", parts)
    return np.concatenate(arrays).astype(parts[0].dtype.newbyteorder("="), copy=False)


def text(raw: bytes, what: str) -> str:
    """Return `raw` decoded as UTF-8, or refuse it naming `what`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelError(f"{what} is not valid UTF-8") from error
