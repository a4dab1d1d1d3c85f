"""The evaluator needs only numpy: with onnx, onnxruntime, protobuf, scikit-learn and
skl2onnx blocked, it loads and runs the models exported in this session, on the numpy
backend that "auto" falls back to, and gives onnxruntime's numbers."""

from pathlib import Path
import subprocess
import sys

import numpy as np

from homeiq_core.inference import load_model

from .conftest import Exported

PROBE = """
import sys
for name in ("onnxruntime", "onnx", "google.protobuf", "sklearn", "skl2onnx",
             "homeassistant"):
    sys.modules[name] = None
from pathlib import Path
import numpy as np
from homeiq_core.inference import load_model, onnxruntime_available
assert not onnxruntime_available()
directory = Path(sys.argv[1])
for path in sorted(directory.glob("*.onnx")):
    model = load_model(path)
    assert model.backend == "numpy", model.backend
    outputs = model.run(np.load(directory / f"{path.stem}.npy"))
    np.savez(directory / f"{path.stem}.out.npz", **outputs)
blocked = [m for m in ("onnxruntime", "onnx", "sklearn", "skl2onnx")
           if sys.modules.get(m) is not None]
print("loaded", len(list(directory.glob("*.out.npz"))), "blocked", blocked)
"""


def test_models_run_without_onnx_onnxruntime_or_scikit_learn(
    exported: dict[str, Exported], tmp_path: Path
) -> None:
    for name, model in exported.items():
        (tmp_path / f"{name}.onnx").write_bytes(model.data)
        np.save(tmp_path / f"{name}.npy", model.x)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["loaded", str(len(exported)), "blocked", "[]"]
    for name, model in exported.items():
        expected = load_model(model.data, backend="onnxruntime").run(model.x)
        with np.load(tmp_path / f"{name}.out.npz", allow_pickle=True) as outputs:
            assert sorted(outputs.files) == sorted(expected)
            for key, value in expected.items():
                if value.dtype.kind == "f":
                    np.testing.assert_allclose(outputs[key], value, atol=1e-5, rtol=0)
                else:
                    assert outputs[key].tolist() == value.tolist()
