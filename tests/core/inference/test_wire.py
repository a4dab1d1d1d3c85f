"""The protobuf wire reader decodes what protobuf encodes, and refuses the rest."""

from hypothesis import given, settings, strategies as st
import numpy as np
import onnx
import pytest

from homeiq_core.inference.errors import ModelError
from homeiq_core.inference.wire import Field, Kind, Reader

# AttributeProto's numbers: floats 7 (unpacked floats), ints 8, strings 9 (proto2);
# TensorProto's float_data 4, int64_data 7, double_data 10 are [packed = true].
ATTRIBUTE = {
    1: Field("name", Kind.BYTES),
    2: Field("f", Kind.FLOAT),
    3: Field("i", Kind.INT),
    7: Field("floats", Kind.FLOATS),
    8: Field("ints", Kind.INTS),
    9: Field("strings", Kind.BYTES_LIST),
}
TENSOR = {
    4: Field("float_data", Kind.FLOATS),
    7: Field("int64_data", Kind.INTS),
    10: Field("double_data", Kind.DOUBLES),
}
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def decode(data: bytes, schema: dict, **kwargs: int) -> dict:
    return Reader(data, **kwargs).message((0, len(data)), schema)


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(INT64, max_size=3000),
    floats=st.lists(st.floats(width=32, allow_nan=False), max_size=2000),
    strings=st.lists(st.binary(max_size=200), max_size=300),
)
def test_unpacked_runs_decode_as_protobuf_encodes_them(
    ints: list[int], floats: list[float], strings: list[bytes]
) -> None:
    attribute = onnx.AttributeProto(name="a", ints=ints, floats=floats, strings=strings)
    fields = decode(attribute.SerializeToString(), ATTRIBUTE)
    assert fields["name"] == b"a"
    assert fields.get("ints", np.zeros(0)).tolist() == ints
    assert fields.get("floats", np.zeros(0, np.float32)).tolist() == floats
    assert fields.get("strings", []) == strings


@settings(max_examples=40, deadline=None)
@given(
    ints=st.lists(INT64, max_size=2000),
    floats=st.lists(st.floats(width=32, allow_nan=False), max_size=500),
    doubles=st.lists(st.floats(allow_nan=False), max_size=500),
)
def test_packed_arrays_decode_as_protobuf_encodes_them(
    ints: list[int], floats: list[float], doubles: list[float]
) -> None:
    tensor = onnx.TensorProto(int64_data=ints, float_data=floats, double_data=doubles)
    fields = decode(tensor.SerializeToString(), TENSOR)
    assert fields.get("int64_data", np.zeros(0)).tolist() == ints
    assert fields.get("float_data", np.zeros(0)).tolist() == floats
    assert fields.get("double_data", np.zeros(0)).tolist() == doubles


def test_runs_interleaved_with_other_fields_are_joined_in_order() -> None:
    one = onnx.AttributeProto(
        ints=list(range(20)), floats=[1.5] * 20
    ).SerializeToString()
    two = onnx.AttributeProto(ints=[-1, 2**40], i=7).SerializeToString()
    fields = decode(one + two + one, ATTRIBUTE)
    assert fields["ints"].tolist() == [*range(20), -1, 2**40, *range(20)]
    assert fields["floats"].tolist() == [1.5] * 40
    assert fields["i"] == 7


def test_packed_and_unpacked_encodings_of_one_field_are_joined() -> None:
    unpacked = onnx.AttributeProto(ints=[1, 2, 3]).SerializeToString()
    packed = onnx.TensorProto(int64_data=[4, 5]).SerializeToString()  # field 7
    # re-tag the packed int64_data (field 7) as AttributeProto.ints (field 8)
    packed = bytes([8 << 3 | 2]) + packed[1:]
    assert decode(unpacked + packed, ATTRIBUTE)["ints"].tolist() == [1, 2, 3, 4, 5]


def test_long_strings_inside_a_run_of_short_ones() -> None:
    strings = [b"a", b"x" * 200, b"b", b"y" * 70_000, b""]
    data = onnx.AttributeProto(strings=strings).SerializeToString()
    assert decode(data, ATTRIBUTE)["strings"] == strings


def test_fields_numbered_16_and_above_take_the_plain_path() -> None:
    schema = {
        20: Field("ints", Kind.INTS),
        21: Field("floats", Kind.FLOATS),
        22: Field("strings", Kind.BYTES_LIST),
    }
    # Two-byte tags: (20 << 3 | 0) = 160 -> a0 01, etc.
    data = b"".join(
        [
            b"\xa0\x01\x05",
            b"\xa0\x01\x06",
            b"\xad\x01\x00\x00\x80\x3f",
            b"\xb2\x01\x02hi",
            b"\xb2\x01\x00",
        ]
    )
    fields = decode(data, schema)
    assert fields["ints"].tolist() == [5, 6]
    assert fields["floats"].tolist() == [1.0]
    assert fields["strings"] == [b"hi", b""]


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    data = (
        b"\x98\x06\x2a"  # field 99, varint
        + b"\x99\x06" + b"\x00" * 8  # field 99, fixed64
        + b"\x9a\x06\x03abc"  # field 99, bytes
        + b"\x9d\x06" + b"\x00" * 4  # field 99, fixed32
        + b"\x18\x07"  # field 3 (i) = 7
    )  # fmt: skip
    assert decode(data, ATTRIBUTE) == {"i": 7}


def test_scalar_kinds_decode() -> None:
    data = onnx.AttributeProto(name="x", f=2.5, i=-3).SerializeToString()
    assert decode(data, ATTRIBUTE) == {"name": b"x", "f": 2.5, "i": -3}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x18", "file truncated at byte 1"),
        (b"\x18\x80\x80", "file truncated at byte 3"),
        (b"\x18" + b"\xff" * 10 + b"\x01", "malformed varint at byte 1"),
        (b"\x0a\x05ab", "file truncated at byte 4"),
        (b"\x15\x00\x00", "file truncated at byte 3"),
        (b"\x9b\x06", "invalid wire type 3 at byte 0"),
        (b"\x9f\x06", "invalid wire type 7 at byte 0"),
        (b"\x00\x01", "invalid field number 0 at byte 0"),
        (b"\x0b", "field 'name' has wire type 3 at byte 0"),
        (b"\x08\x01", "field 'name' has wire type 0"),
        (b"\x1d\x00\x00\x00\x00", "field 'i' has wire type 5"),
        (b"\x42\x01\x80", "malformed packed varints at byte 2"),
        (b"\x42\x0b" + b"\xff" * 10 + b"\x01", "malformed varint at byte 2"),
        (b"\x3a\x03\x00\x00\x00", "malformed packed array at byte 2"),
        (b"\x45\x00\x00\x00\x00", "field 'ints' has wire type 5"),
        (b"\x38\x01", "field 'floats' has wire type 0"),
        (b"\x48\x01", "field 'strings' has wire type 0"),
        (b"\x3d\x00\x00", "file truncated at byte 3"),
        (b"\x40\x01" * 12 + b"\x40", "file truncated at byte 25"),
        (b"\x40\x01" * 8 + b"\x40", "file truncated at byte 17"),
        (
            b"\x40\x01" * 8 + b"\x40" + b"\xff" * 10 + b"\x01",
            "malformed varint at byte 17",
        ),
        (b"\x3d\x00\x00\x80\x3f\x3d\x00", "file truncated at byte 7"),
        (b"\x40\x01" * 12 + b"\x40\xff", "file truncated at byte 26"),
    ],
)
def test_malformed_input_names_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        decode(data, ATTRIBUTE)


def test_a_field_overrunning_its_message_is_malformed_not_truncated() -> None:
    reader = Reader(b"\x0a\x05abcdefgh")
    with pytest.raises(ModelError, match="overruns its message at byte 4"):
        reader.message((0, 4), ATTRIBUTE)


def test_messages_and_repeated_messages_are_spans() -> None:
    schema = {1: Field("one", Kind.MESSAGE), 2: Field("many", Kind.MESSAGES)}
    data = b"\x0a\x01x\x12\x00\x12\x02yz"
    assert decode(data, schema) == {"one": (2, 3), "many": [(5, 5), (7, 9)]}
    with pytest.raises(ModelError, match="field 'many' has wire type 0"):
        decode(b"\x10\x01", schema)


def test_a_long_unpacked_run_at_the_end_of_a_short_window_continues() -> None:
    # runs longer than the first numpy window, with values of every varint width
    values = [(1 << (7 * (i % 10))) - 1 for i in range(5000)]
    data = onnx.AttributeProto(ints=values).SerializeToString()
    assert decode(data, ATTRIBUTE)["ints"].tolist() == [
        v - (1 << 64) if v >= 1 << 63 else v for v in values
    ]


def test_the_decoding_budget_stops_hostile_files() -> None:
    data = b"\x18\x01" * 100
    assert decode(data, ATTRIBUTE, max_steps=100) == {"i": 1}
    with pytest.raises(ModelError, match="too complex to decode"):
        decode(data, ATTRIBUTE, max_steps=99)
    strings = onnx.AttributeProto(strings=[b"x"] * 100).SerializeToString()
    with pytest.raises(ModelError, match="too complex to decode"):
        decode(strings, ATTRIBUTE, max_steps=50)
    ints = onnx.AttributeProto(ints=[1] * 10_000).SerializeToString()
    with pytest.raises(ModelError, match="too complex to decode"):
        decode(ints, ATTRIBUTE, max_steps=60)
