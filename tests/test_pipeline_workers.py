"""A task whose worker dies is retried elsewhere; one that always kills it, recorded.

Two test-only methods, registered on every worker (restarted ones included) by a
worker plugin: one kills its worker process on its first attempt only, the
other on every attempt.
"""

import dataclasses
import json
import os
import sys
from pathlib import Path

import cloudpickle
import pytest
from distributed import LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from augsleep.methods import NoAugmentationClassifier
from augsleep.pipeline import load_pipeline, run_tasks
from augsleep.pipeline.execution import prepare

PIPELINE = """\
name: dying
dataset:
  name: tiny-mass
  loader: synthetic_mass
  path: data
  synthetic: {n_subjects: 3, n_epochs: 10, seed: 0}
  options: {channels: [C3]}
folds: folds.json
common: {max_epochs: 1, patience: null, batch_size: 8}
methods:
  none: {}
"""
FOLDS = {"folds": [{"train": [1], "valid": [2], "test": [3]}]}


class DieOnce(NoAugmentationClassifier):
    """Kills its process on the first fit (marker file absent), then fits."""

    def fit(self, X, y, groups=None, X_val=None, y_val=None):
        marker = Path(os.environ["AUGSLEEP_TEST_MARKER"])
        if not marker.exists():
            marker.write_text("died once")
            os._exit(1)
        return super().fit(X, y, groups, X_val, y_val)


class DieAlways(NoAugmentationClassifier):
    """Kills its process on every fit."""

    def fit(self, X, y, groups=None, X_val=None, y_val=None):
        os._exit(1)


class RegisterMethods(WorkerPlugin):
    """Add the test methods to METHODS on every (re)started worker."""

    def setup(self, worker):
        from augsleep.methods import METHODS

        METHODS.update(die_once=DieOnce, die_always=DieAlways)


@pytest.fixture
def module_by_value():
    # The workers cannot import this test module: send its classes by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_dead_worker_retried_then_recorded(tmp_path, module_by_value):
    import dask

    (tmp_path / "folds.json").write_text(json.dumps(FOLDS))
    (tmp_path / "p.yml").write_text(PIPELINE)
    pipeline = load_pipeline(tmp_path / "p.yml")
    out = tmp_path / "out"
    (task,) = prepare(pipeline, out)
    tasks = [
        dataclasses.replace(task, method=name, method_name=name)
        for name in ("die_once", "die_always")
    ]
    assert len({t.record_name for t in tasks}) == 2
    env = {"AUGSLEEP_TEST_MARKER": str(tmp_path / "marker"), "OMP_NUM_THREADS": "1"}
    settings = {
        "distributed.scheduler.allowed-failures": 1,
        # As in augsleep's local cluster: the worker holds only the task it
        # runs, so that a death is charged to that task alone.
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
        )
    with cluster:
        from distributed import Client

        with Client(cluster) as client:
            client.register_plugin(RegisterMethods())
        summary = run_tasks(
            tasks, out, scheduler=cluster.scheduler_address, progress=False
        )
    assert (summary.n_run, summary.n_failed) == (2, 1)
    assert summary.failed == ["tiny-mass-fold0-die_always-seed0"]
    records = {
        t.method: json.loads((out / "records" / t.record_name).read_text())
        for t in tasks
    }
    assert (tmp_path / "marker").read_text() == "died once"
    assert records["die_once"]["status"] == "ok"  # retried on the new worker
    lost = records["die_always"]
    assert lost["status"] == "failed"
    assert lost["error"]["type"] == "KilledWorker"
    assert "tiny-mass-fold0-die_always-seed0" in lost["error"]["message"]
