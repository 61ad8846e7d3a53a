"""The experiment pipeline: datasets x folds x methods x seeds, on Dask, resumable.

A pipeline file (YAML, ``pipelines/*.yml``) names a dataset and where it lies,
a fold file (``data/folds/*.json``, by subject), the methods of
:data:`augsleep.methods.METHODS` with their parameters, the seeds and what to
report. One module per step along the way:

- :mod:`~augsleep.pipeline.config`: read and check a pipeline file (every error
  names the file and the field, before any training);
- :mod:`~augsleep.pipeline.folds`: read and check a fold file;
- :mod:`~augsleep.pipeline.tasks`: the tasks (dataset x fold x method x seed)
  and their configuration hashes;
- :mod:`~augsleep.pipeline.worker`: what one task does on a worker (load its
  subjects from the path, fit, score, build the record);
- :mod:`~augsleep.pipeline.records`: one JSON record per finished task,
  written atomically;
- :mod:`~augsleep.pipeline.execution`: run the missing tasks on a Dask
  ``LocalCluster``, an existing scheduler, or one after another;
- :mod:`~augsleep.pipeline.report`: the table and the figures (Fig. 6b, B.10,
  B.11) from the records.

A pipeline file with ``study: sinusoids`` is a study (the paper's synthetic
studies, backing notebooks 1-4): settings x seeds of
:func:`augsleep.demo.train_sinusoid_model`, checked by
:mod:`~augsleep.pipeline.study`, run by :mod:`~augsleep.pipeline.study_worker`
on the same execution, tabulated by :mod:`~augsleep.pipeline.study_report`.
Any pipeline file may have a ``sizes`` section (``load_pipeline(size=...)``,
``augsleep run --size``).
"""

from augsleep.pipeline.config import Pipeline, PipelineError, load_pipeline
from augsleep.pipeline.execution import RunSummary, run_pipeline, run_tasks
from augsleep.pipeline.folds import Fold, load_folds
from augsleep.pipeline.report import build_report
from augsleep.pipeline.study import StudyPipeline, StudyTask, make_study_tasks
from augsleep.pipeline.study_report import read_study
from augsleep.pipeline.tasks import Task, make_tasks
from augsleep.pipeline.worker import load_model

__all__ = [
    "Fold",
    "Pipeline",
    "PipelineError",
    "RunSummary",
    "StudyPipeline",
    "StudyTask",
    "Task",
    "build_report",
    "load_folds",
    "load_model",
    "load_pipeline",
    "make_study_tasks",
    "make_tasks",
    "read_study",
    "run_pipeline",
    "run_tasks",
]
