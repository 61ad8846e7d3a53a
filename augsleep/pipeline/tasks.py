"""The tasks of a pipeline: dataset x fold x method x seed, each with its hash.

A task's configuration hash covers everything that decides its result (the
dataset's loader and options, the fold's subjects, the method and its
parameters, the seed), not where the data lie, so that the same task on two
machines has the same hash. Its record is ``records/<task_id>-<hash>.json``: a
changed parameter gives a new task, never a stale record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from augsleep.pipeline.config import Pipeline
from augsleep.pipeline.folds import Fold

#: Characters of the hash in record names.
HASH_CHARS = 12


def hash_config(config: dict) -> str:
    """SHA-256 of a task's configuration as canonical JSON (sorted keys)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    """One fit: a method with its parameters on one fold, with one seed."""

    pipeline: str
    dataset: dict
    fold: Fold
    method: str
    method_name: str
    params: dict
    seed: int
    #: Whether the worker saves the fitted model (not hashed: it does not
    #: change the result).
    save_model: bool = False

    @property
    def config(self) -> dict:
        """What decides the result (hashed)."""
        return {
            "dataset": {
                "name": self.dataset["name"],
                "loader": self.dataset["loader"],
                "options": self.dataset["options"],
                "synthetic": self.dataset["synthetic"],
            },
            "fold": {
                p: list(getattr(self.fold, p)) for p in ("train", "valid", "test")
            },
            "method_name": self.method_name,
            "params": self.params,
            "seed": self.seed,
        }

    @property
    def config_hash(self) -> str:
        """SHA-256 of :attr:`config` as canonical JSON."""
        return hash_config(self.config)

    @property
    def task_id(self) -> str:
        """Readable name: ``<dataset>-fold<k>-<method>-seed<s>``."""
        name, fold = self.dataset["name"], self.fold.index
        return f"{name}-fold{fold}-{self.method}-seed{self.seed}"

    @property
    def record_name(self) -> str:
        """File name of the task's record."""
        return f"{self.task_id}-{self.config_hash[:HASH_CHARS]}.json"

    @property
    def model_name(self) -> str:
        """File name of the task's saved model (``models/`` of the output)."""
        return f"{self.task_id}-{self.config_hash[:HASH_CHARS]}.pt"

    def spec(
        self, cache_dir: str | None, torch_threads: int, models_dir: str | None = None
    ) -> dict:
        """Describe the task for a worker, as JSON-able paths and values (no data).

        ``models_dir`` is where the worker saves the fitted model when the
        task's :attr:`save_model` is set.
        """
        return {
            "task_id": self.task_id,
            "record_name": self.record_name,
            "model_path": (
                str(Path(models_dir) / self.model_name)
                if self.save_model and models_dir is not None
                else None
            ),
            "config_hash": self.config_hash,
            "pipeline": self.pipeline,
            "dataset": {
                "name": self.dataset["name"],
                "loader": self.dataset["loader"],
                "path": self.dataset["path"],
                "options": self.dataset["options"],
                "cache_dir": cache_dir if self.dataset["cache"] else None,
            },
            "fold": self.fold.to_dict(),
            "method": self.method,
            "method_name": self.method_name,
            "params": self.params,
            "seed": self.seed,
            "torch_threads": torch_threads,
        }


def make_tasks(pipeline: Pipeline) -> list[Task]:
    """List a pipeline's tasks, fold by fold, method by method, seed by seed.

    Parameters
    ----------
    pipeline : Pipeline | StudyPipeline
        A study pipeline gives its settings x seeds
        (:func:`augsleep.pipeline.study.make_study_tasks`).

    Returns
    -------
    tasks : list of Task | list of StudyTask
    """
    if pipeline.kind == "study":
        from augsleep.pipeline.study import make_study_tasks

        return make_study_tasks(pipeline)
    return [
        Task(
            pipeline=pipeline.name,
            dataset=pipeline.dataset,
            fold=fold,
            method=method.label,
            method_name=method.name,
            params=method.params,
            seed=seed,
            save_model=pipeline.save_models,
        )
        for fold in pipeline.folds
        for method in pipeline.methods
        for seed in pipeline.seeds
    ]
