"""`homeiq-trainer infer`: run a model file on a table of features, as HomeIQ would.

The model is evaluated by `homeiq_core.inference`, the code the integration runs, on
the backend asked for. The input is a CSV file whose header names the features (its
columns are put in the model's `homeiq.feature_names` order; extra columns are
ignored) or a `.npy` array already in the model's column order. The output is CSV:
`label` and one `probability_<class>` column per class for a classifier, `value` (or
`value_<k>` per target) for a regressor, `label` and `score` for an outlier detector.
"""

import argparse
from collections.abc import Sequence
import csv
from pathlib import Path
import sys
from typing import TextIO

import numpy as np

from homeiq_core.inference import BACKENDS, Model, ModelError, Prediction, load_model

from .errors import CommandError

HELP = "run a model on a CSV or .npy file of features"
DESCRIPTION = """\
Run an ONNX model on a table of features with HomeIQ's own evaluator and write its
predictions as CSV. A CSV input needs a header naming the features (columns are
matched by name to the model's homeiq.feature_names); a .npy input must already be
in the model's column order.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `infer` command."""
    parser = subparsers.add_parser(
        "infer",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="ONNX model file")
    parser.add_argument(
        "--input", required=True, type=Path, help="CSV with a header, or .npy"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="evaluator (default: onnxruntime if importable, else numpy)",
    )
    parser.add_argument(
        "--output", type=Path, help="CSV file to write (default: stdout)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the model on the input and write the predictions."""
    try:
        model = load_model(args.model, backend=args.backend)
    except ModelError as error:
        raise CommandError(f"{args.model}: {error}") from None
    features = read_features(args.input, model)
    try:
        prediction = model.predict(features)
    except ModelError as error:
        raise CommandError(f"{args.model}: {error}") from None
    header, rows = table(prediction)
    if args.output is None:
        write_csv(sys.stdout, header, rows)
        return 0
    try:
        with args.output.open("w", newline="", encoding="utf-8") as file:
            write_csv(file, header, rows)
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {error.strerror}") from None
    return 0


def read_features(path: Path, model: Model) -> np.ndarray:
    """Return the input file as a float [rows, n_features] array in model order."""
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {path}: {error}") from None
        if array.ndim != 2 or array.dtype.kind not in "biuf":
            raise CommandError(
                f"{path}: expected a 2-D numeric array, not {array.shape}"
            )
        if array.shape[1] != model.n_features:
            raise CommandError(
                f"{path}: input has {array.shape[1]} features, "
                f"model expects {model.n_features}"
            )
        return array
    names, values = _read_csv(path)
    try:
        return model.align(values, names)
    except ModelError as error:
        raise CommandError(f"{path}: {error}") from None


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Return a CSV file's header and its cells as floats (empty cells are NaN)."""
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if not header:
                raise CommandError(f"{path}: no header row of feature names")
            names = [name.strip() for name in header]
            rows = [_numbers(path, reader.line_num, names, cells) for cells in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    return names, np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def _numbers(
    path: Path, line: int, names: Sequence[str], cells: list[str]
) -> list[float]:
    """Return one CSV row as floats, naming the cell that is not a number."""
    if len(cells) != len(names):
        raise CommandError(
            f"{path}: line {line} has {len(cells)} cells, not {len(names)}"
        )
    row = []
    for name, cell in zip(names, cells, strict=True):
        text = cell.strip()
        try:
            row.append(float(text) if text else float("nan"))
        except ValueError:
            raise CommandError(
                f"{path}: line {line}, column '{name}': {text!r} is not a number"
            ) from None
    return row


def table(prediction: Prediction) -> tuple[list[str], list[list[str]]]:
    """Return the CSV header and rows for a prediction."""
    columns: list[tuple[str, np.ndarray]] = []
    if prediction.probabilities is not None:
        classes = prediction.classes or tuple(range(prediction.probabilities.shape[1]))
        columns.append(("label", _column(prediction.labels)))
        columns.extend(
            (f"probability_{label}", prediction.probabilities[:, k])
            for k, label in enumerate(classes)
        )
    elif prediction.scores is not None:
        columns.append(("label", _column(prediction.labels)))
        columns.append(("score", prediction.scores))
    else:
        values = np.asarray(prediction.values)
        if values.ndim == 1:
            columns.append(("value", values))
        else:
            columns.extend((f"value_{k}", values[:, k]) for k in range(values.shape[1]))
    header = [name for name, _ in columns]
    cells = [[_cell(value) for value in column] for _, column in columns]
    return header, [list(row) for row in zip(*cells, strict=True)]


def _column(values: np.ndarray | None) -> np.ndarray:
    assert values is not None
    return values


def _cell(value: object) -> str:
    """Format one output cell: floats with the 9 digits that round-trip float32."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.9g}"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def write_csv(file: TextIO, header: list[str], rows: list[list[str]]) -> None:
    """Write the predictions as CSV."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
