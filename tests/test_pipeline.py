"""The experiment pipeline end to end: Dask run, records, resume after SIGKILL, report.

One tiny pipeline (4 synthetic MASS-shaped nights of 12 epochs, one channel,
one epoch of training, two folds) with two real methods (one without and one
with a search) and one whose task fails in ``fit`` (an unknown operation,
which only ``fit`` checks).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from augsleep.pipeline import build_report, load_pipeline, run_pipeline
from augsleep.pipeline.report import results_table

ROOT = Path(__file__).resolve().parents[1]
N_TASKS = 6  # 2 folds x 3 methods x 1 seed
METRIC_COLUMNS = [
    f"{m}_{s}"
    for m in ("balanced_accuracy", "cohen_kappa", "macro_f1")
    for s in ("mean", "std")
]

PIPELINE = """\
name: tiny
dataset:
  name: tiny-mass
  loader: synthetic_mass
  path: data
  synthetic: {n_subjects: 4, n_epochs: 12, seed: 0}
  options: {channels: [C3]}
folds: folds.json
seeds: [0]
common: {max_epochs: 1, patience: null, batch_size: 8}
methods:
  none: {}
  random_search: {search_budget: 2, checkpoint_every: 1}
  broken: {method: random_search, search_budget: 1, operations: [not_an_op]}
"""
FOLDS = {
    "subjects": [1, 2, 3, 4],
    "folds": [
        {"train": [1, 2], "valid": [3], "test": [4]},
        {"train": [3, 4], "valid": [1], "test": [2]},
    ],
}


def write_pipeline(folder: Path, text: str = PIPELINE, folds=FOLDS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "folds.json").write_text(json.dumps(folds))
    path = folder / "tiny.yml"
    path.write_text(text)
    return path


def _no_nan(text):
    raise AssertionError(f"record holds {text}, not JSON")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The tiny pipeline run once on a 2-worker LocalCluster."""
    folder = tmp_path_factory.mktemp("pipeline")
    path = write_pipeline(folder)
    out = folder / "out"
    summary = run_pipeline(
        load_pipeline(path),
        out,
        scheduler="local",
        n_workers=2,
        torch_threads=1,
        progress=False,
    )
    return path, out, summary


def test_local_cluster_runs_every_task_and_records_it(uninterrupted):
    _, out, summary = uninterrupted
    assert (summary.n_tasks, summary.n_skipped, summary.n_run) == (N_TASKS, 0, N_TASKS)
    assert summary.n_failed == 2 and all("broken" in t for t in summary.failed)
    paths = sorted((out / "records").glob("*.json"))
    assert len(paths) == N_TASKS
    records = [json.loads(p.read_text(), parse_constant=_no_nan) for p in paths]
    workers = {r["worker"]["pid"] for r in records}
    assert os.getpid() not in workers  # computed in the worker processes
    ok = [r for r in records if r["status"] == "ok"]
    assert len(ok) == 4
    for r in ok:
        assert set(r["metrics"]["test"]) >= {
            "balanced_accuracy",
            "cohen_kappa",
            "macro_f1",
        }
        assert r["compute_time"]["total_s"] > 0
        assert r["versions"]["augsleep"] and r["versions"]["torch"]
        assert len(r["config_hash"]) == 64
        assert r["n_windows"] == {"train": 24, "valid": 12, "test": 12}
        assert r["augmentation_summary"] is not None
    searches = [r for r in ok if r["method"] == "random_search"]
    for r in searches:  # one point per checkpoint, with its test score
        assert [c["n_trials"] for c in r["checkpoints"]] == [1, 2]
        assert all(c["test_balanced_accuracy"] is not None for c in r["checkpoints"])
        assert r["policy"]  # the learned policy, as rows
    assert all(r["checkpoints"] is None for r in ok if r["method"] != "random_search")


def test_failing_task_is_recorded_with_its_traceback(uninterrupted):
    _, out, _ = uninterrupted
    failed = [
        json.loads(p.read_text()) for p in sorted((out / "records").glob("*broken*"))
    ]
    assert len(failed) == 2
    for r in failed:
        assert r["status"] == "failed"
        assert r["error"]["type"] == "ValueError"
        assert "Unknown operations ['not_an_op']" in r["error"]["message"]
        assert "Traceback (most recent call last)" in r["error"]["traceback"]
    written = build_report(out)
    table = pd.read_csv(written["table.csv"])
    assert table["method"].tolist() == ["none", "random_search", "broken"]
    assert table["n_failed"].tolist() == [0, 0, 2]
    assert table["n_folds"].tolist() == [2, 2, 0]
    assert "tiny-mass-fold0-broken-seed0" in written["table.md"].read_text()
    for name in ("fig6b.png", "figB10.png"):
        assert written[name].stat().st_size > 0
    assert "Fig. B.11 skipped" in written["notes"][0]


def test_killed_run_resumes_to_the_same_table(uninterrupted, tmp_path):
    """SIGKILL the whole run after 2 records; the rerun computes only the rest."""
    ref_path, ref_out, _ = uninterrupted
    path = write_pipeline(tmp_path, ref_path.read_text())
    out = tmp_path / "out"
    records = out / "records"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "augsleep.cli", "run", str(path), "--out", str(out)]
        + ["--workers", "2", "--torch-threads", "1", "--no-progress", "--no-report"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the workers die with it
    )
    deadline = time.monotonic() + 240
    try:
        while len(list(records.glob("*.json"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no records after 240 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)  # let the killed processes go
    kept = sorted(p.name for p in records.glob("*.json"))
    assert 2 <= len(kept) < N_TASKS
    for p in records.glob("*.json"):  # every record whole (written atomically)
        json.loads(p.read_text())
    # The rest in this process, with the workers' one torch thread: the same
    # computations, so the same numbers.
    summary = run_pipeline(
        load_pipeline(path), out, scheduler="sync", torch_threads=1, progress=False
    )
    assert summary.n_skipped == len(kept)
    assert summary.n_run == N_TASKS - len(kept)
    again = run_pipeline(load_pipeline(path), out, scheduler="sync", progress=False)
    assert (again.n_skipped, again.n_run) == (N_TASKS, 0)  # nothing recomputed

    def table(folder):
        from augsleep.pipeline.records import read_records

        records = read_records(folder / "records")
        order = ["none", "random_search", "broken"]
        return results_table(records, order)[["method", "n_folds", *METRIC_COLUMNS]]

    pd.testing.assert_frame_equal(table(out), table(ref_out))


def test_saved_models_predict_as_their_records_scored(tmp_path):
    """``save_models: true``: each task's model is saved, and loads back fitted."""
    import numpy as np

    from augsleep.pipeline import load_model
    from augsleep.pipeline.datasets import load_subjects
    from augsleep.pipeline.records import read_records
    from augsleep.pipeline.worker import metrics

    text = PIPELINE.replace("  broken: {method: random_search", "  #").replace(
        "seeds: [0]", "seeds: [0]\nsave_models: true"
    )
    pipeline = load_pipeline(write_pipeline(tmp_path, text))
    out = tmp_path / "out"
    run_pipeline(pipeline, out, scheduler="sync", progress=False)
    records = read_records(out / "records")
    assert len(records) == 4
    for record in records:
        assert record["status"] == "ok", record["error"]
        clf = load_model(out, record)
        assert (
            type(clf).__name__
            == {
                "none": "NoAugmentationClassifier",
                "random_search": "RandomSearchClassifier",
            }[record["method"]]
        )
        X, y, groups, _ = load_subjects(
            {**pipeline.dataset, "cache_dir": None}, record["subjects"]["test"]
        )
        assert np.isin(groups, record["subjects"]["test"]).all()
        assert metrics(y, clf.predict(X)) == record["metrics"]["test"]


def test_models_are_not_saved_by_default(uninterrupted):
    from augsleep.pipeline import load_model
    from augsleep.pipeline.records import read_records

    _, out, _ = uninterrupted
    records = read_records(out / "records")
    assert records and all(r["model"] is None for r in records if r["status"] == "ok")
    with pytest.raises(ValueError, match="save_models: true"):
        load_model(out, next(r for r in records if r["status"] == "ok"))
