"""docs/features.md lists the feature schemas exactly as the code defines them."""

from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from homeiq_core import features
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA, reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_feature_document_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "features-doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_reference_names_every_feature_with_its_unit() -> None:
    text = reference_markdown()
    for schema in (HOME_SCHEMA, DEVICE_SCHEMA):
        assert schema.fingerprint() in text
        for i, spec in enumerate(schema.features):
            assert f"| {i} | `{spec.name}` | {spec.unit} |" in text


def test_columns_that_do_not_match_the_schema_are_refused() -> None:
    with pytest.raises(RuntimeError, match="home features do not match"):
        features._assemble(HOME_SCHEMA, {"devices": np.zeros(1)}, 1)
