"""Worker preload: import what every task needs once, when the worker starts.

braindecode (its model zoo), MNE, torch and scikit-learn take seconds to import
(tens of seconds on a loaded machine); imported inside the first task of each
worker, that time would be counted in the task's timings and, through the
lazy imports inside ``fit`` (the trunk's braindecode model, ``torch._dynamo``
by the first optimiser), in its ``compute_time_`` (the x axis of Fig. 6b).
The local cluster preloads this module; for workers of your own::

    dask worker tcp://HOST:8786 --nthreads 1 --preload augsleep.pipeline.preload
"""

import braindecode.datasets  # noqa: F401
import braindecode.models  # noqa: F401
import braindecode.preprocessing  # noqa: F401
import mne  # noqa: F401
import torch  # noqa: F401

# The first torch optimiser imports torch._dynamo (9 s of the first fit here).
import torch._dynamo  # noqa: F401

import augsleep.methods  # noqa: F401
import augsleep.pipeline.study_worker  # noqa: F401
import augsleep.pipeline.worker  # noqa: F401
