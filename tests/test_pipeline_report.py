"""The report from hand-made records: table, curves, Fig. 6b, B.10, B.11."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from augsleep.pipeline import build_report
from augsleep.pipeline.records import (
    RECORD_FORMAT,
    RECORD_VERSION,
    read_record,
    to_jsonable,
    write_record,
)
from augsleep.pipeline.report import method_curves, points_table, record_points


def record(method, fold, test, valid=0.5, hours=1.0, checkpoints=None, seed=0):
    scores = {"balanced_accuracy": test, "cohen_kappa": test / 2, "macro_f1": test / 3}
    return {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        "task_id": f"d-fold{fold}-{method}-seed{seed}",
        "method": method,
        "fold": fold,
        "seed": seed,
        "status": "ok",
        "metrics": {"test": scores, "valid": {"balanced_accuracy": valid}},
        "compute_time": {"total_s": hours * 3600},
        "checkpoints": checkpoints,
    }


def checkpoints(hours, valid, test):
    return [
        {"total_s": h * 3600, "valid_balanced_accuracy": v, "test_balanced_accuracy": t}
        for h, v, t in zip(hours, valid, test, strict=True)
    ]


def test_best_validated_checkpoint_so_far():
    r = record(
        "search",
        0,
        0.3,
        checkpoints=checkpoints(
            [1, 2, 3, 4], [0.5, 0.7, 0.6, 0.7], [0.4, 0.3, 0.9, 0.8]
        ),
    )
    points = record_points(r)
    # Chosen on validation only: 0.6 and a tie at 0.7 never replace the 0.7 of step 2.
    assert points["best_valid_test"].tolist() == [0.4, 0.3, 0.3, 0.3]
    single = record_points(record("augnet", 0, 0.66, hours=2.5))
    assert single[["hours", "best_valid_test"]].values.tolist() == [[2.5, 0.66]]


def test_curves_start_at_the_fold_without_augmentation():
    records = [
        record("none", 0, 0.50),
        record("none", 1, 0.60),
        record("none", 2, 0.70),
        record("augnet", 0, 0.80, hours=1.0),
        record("augnet", 1, 0.60, hours=2.0),
        record("augnet", 2, 0.90, hours=3.0),
    ]
    curves = method_curves(points_table(records), "none")
    assert set(curves["method"]) == {"augnet"}
    # t = 0: each fold at its no-augmentation score; then each fold's own point.
    expected = {
        0.0: [0.5, 0.6, 0.7],
        1.0: [0.8, 0.6, 0.7],
        2.0: [0.8, 0.6, 0.7],
        3.0: [0.8, 0.6, 0.9],
    }
    for hours, values in expected.items():
        row = curves[curves["hours"] == hours].iloc[0]
        assert row["median"] == pytest.approx(np.median(values))
        assert row["q25"] == pytest.approx(np.quantile(values, 0.25))
        assert row["q75"] == pytest.approx(np.quantile(values, 0.75))


def test_curve_undefined_until_every_fold_has_a_point_without_baseline():
    records = [record("augnet", 0, 0.8, hours=1.0), record("augnet", 1, 0.6, hours=2.0)]
    curves = method_curves(points_table(records), "none")
    assert math.isnan(curves.loc[curves["hours"] == 1.0, "median"].iloc[0])
    assert curves.loc[curves["hours"] == 2.0, "median"].iloc[0] == pytest.approx(0.7)


def test_report_table_and_figures(tmp_path):
    records = [
        record("none", 0, 0.50),
        record("none", 1, 0.60),
        record("adda", 0, 0.60, hours=2.0),
        record("adda", 1, 0.50, hours=2.0),
        record("augnet", 0, 0.66, hours=1.0),
        record("augnet", 1, 0.55, hours=1.0),
        record("augnet", 1, 0.65, hours=3.0, seed=1),
        {
            **record("augnet", 0, 0.0, seed=1),
            "status": "failed",
            "metrics": None,
            "error": {"type": "ValueError", "message": "boom\nmore", "traceback": "tb"},
        },
    ]
    for r in records:
        write_record(tmp_path / "records", f"{r['task_id']}.json", r)
    written = build_report(tmp_path)
    table = pd.read_csv(written["table.csv"]).set_index("method")
    # augnet: fold 1 averages its two seeds (0.60) before the mean over folds.
    assert table.loc["augnet", "balanced_accuracy_mean"] == pytest.approx(0.63)
    assert table.loc["augnet", "balanced_accuracy_std"] == pytest.approx(
        np.std([0.66, 0.60], ddof=1)
    )
    assert table.loc["augnet", "compute_time_h_mean"] == pytest.approx(1.5)
    assert table.loc["augnet", "n_failed"] == 1 and table.loc["augnet", "n_ok"] == 3
    md = written["table.md"].read_text()
    assert "| augnet | 2 | 0.630 ± 0.042 |" in md
    assert "`d-fold0-augnet-seed1`: ValueError: boom (traceback in the record)" in md
    for name in ("fig6b.png", "figB10.png", "figB11.png"):
        assert written[name].stat().st_size > 1000
    # Fig. B.11 at the largest time (3 h): per fold, relative to ADDA.
    b11 = pd.read_csv(written["figB11.csv"]).set_index(["method", "fold"])
    assert b11.loc[("augnet", 0), "improvement_pct"] == pytest.approx(10.0)
    assert b11.loc[("augnet", 1), "improvement_pct"] == pytest.approx(20.0)
    assert b11.loc[("none", 0), "improvement_pct"] == pytest.approx(100 * -0.1 / 0.6)


def test_records_are_plain_json_written_atomically(tmp_path):
    content = {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        "x": np.float32(1.5),
        "nan": float("nan"),
        "frame": pd.DataFrame({"a": [1, 2], "b": [np.nan, 0.5]}),
        "array": np.arange(3),
    }
    path = write_record(tmp_path, "r.json", content)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text)["frame"] == [{"a": 1, "b": None}, {"a": 2, "b": 0.5}]
    assert read_record(path)["array"] == [0, 1, 2]
    assert to_jsonable({"t": (1, np.int64(2))}) == {"t": [1, 2]}
    path.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="r.json: not an augsleep pipeline record"):
        read_record(path)
