# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # How many copies? Accuracy and cost against C
#
# AugNet predicts with the average of the trunk's predictions on C augmented
# copies of the input, `log(1/C sum_c softmax(f(g_c x)))`. The paper (Figs. B.5
# and B.6, on CIFAR10) shows that accuracy grows with the C used at inference,
# for one model trained with C = 1, and that the forward time grows linearly
# with C. This notebook measures both on the sinusoids of Section 4.2, where a
# model trains in seconds on a CPU.
#
# The trunk is the capacity study's smallest MLP (one hidden layer of 2
# neurons, Section 4.3) behind one augmentation layer holding only the
# frequency shift, with the settings of the official code for that study
# (lambda = 0.8, initial magnitude 0.05). With the paper's small CNN
# the accuracy is already 1.0 at C = 1 (the README's "What it measures"): it
# would show nothing. The MLP cannot encode the invariance itself, so what the
# averaging adds is visible.
#
# The training and the accuracies are the task of the pipeline file
# `pipelines/copies.yml` (`augsleep run pipelines/copies.yml` gives the same
# record); this notebook runs it and reads its record. The forward times are
# measured here: a timing of this machine, not a result to record.
#
# Run size: `AUGSLEEP_NOTEBOOK_SIZE=quick` (what CI executes) trains for 2
# epochs on 64 windows; `full` (the default) is the study.

# %% tags=["parameters"]
from augsleep.notebooks import notebook_size

SIZE = notebook_size()

# %%
import time
import warnings

import numpy as np
import pandas as pd
import torch

# The pipeline's progress bar falls back to text without ipywidgets: fine here.
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402

from augsleep.notebooks import pipeline_path, results_dir  # noqa: E402
from augsleep.pipeline import load_pipeline, read_study, run_pipeline  # noqa: E402

# %%
# Figures in the notebook (after the imports: augsleep.plotting selects Agg).
# %matplotlib inline

# %%
PIPELINE = load_pipeline(pipeline_path("copies"), size=SIZE)
OUT = results_dir(PIPELINE.name, SIZE)
(SETTING,) = PIPELINE.settings
SEED = PIPELINE.seeds[0]
#: Repeats of the forward-time measurement (not part of the pipeline).
N_REPEATS = {"full": 30, "quick": 3}[SIZE]
{
    **PIPELINE.data,
    "n_epochs": SETTING.params["n_epochs"],
    "copies": SETTING.params["copies"],
    "draws": SETTING.params["draws"],
    "timing repeats": N_REPEATS,
    "output": str(OUT),
}

# %% [markdown]
# ## One model, trained with C = 1
#
# 400 training and 200 test sinusoids (Section 4.2: 2, 4, 6 and 8 Hz, each
# frequency jittered by up to 0.5 Hz, noise of std 0.5, 10 s at 100 Hz).

# %%
run_summary = run_pipeline(PIPELINE, OUT, scheduler="sync")
(record,) = read_study(OUT)
print(
    f"{run_summary.n_run} task run, {run_summary.n_skipped} already recorded; "
    f"trained in {record['timings']['train_s']:.1f} s"
)
pd.DataFrame(record["augmentation"])

# %% [markdown]
# ## Accuracy against C
#
# The same model, evaluated with C = 1 to 40 copies. Each C is evaluated with
# several independent draws of the augmentations (draw k uses the generator
# seeded with k, the pipeline's `draws`): the line is the median test accuracy
# over draws, the band the 75 % interval.

# %%
accuracy = pd.DataFrame(record["test_accuracy"]).rename(columns={"copies": "C"})
by_c = accuracy.groupby("C")["accuracy"].quantile([0.125, 0.5, 0.875]).unstack()
by_c.columns = ["q12.5", "median", "q87.5"]
by_c

# %%
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(by_c.index, by_c["median"], marker="o")
ax.fill_between(by_c.index, by_c["q12.5"], by_c["q87.5"], alpha=0.3)
ax.set_xlabel("copies C at inference")
ax.set_ylabel("test accuracy")
ax.set_title("One model (trained with C = 1), evaluated with C copies")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## Forward time against C
#
# The forward pass of AugNet on 200 windows (no gradient, evaluation mode),
# divided by that of its trunk alone on the same windows, for two trunks
# behind the same augmentation layer (the frequency shift at the magnitude
# learned above): the MLP of the study and the paper's small sinusoid CNN
# (Table A.2). Both are rebuilt untrained: the time does not depend on the
# weights. Each repeat times every C once, in turn, so that a change in the
# machine's load affects all C alike; one thread, so that cores shared with
# other processes matter less. The line is the median ratio over repeats, the
# band its 75 % interval, the dotted line a least-squares line through the
# medians.

# %%
from augsleep.augment import AugmentationModule  # noqa: E402
from augsleep.data.sinusoids import make_sinusoids  # noqa: E402
from augsleep.models import MLP, AugNet, SinusoidCNN  # noqa: E402
from augsleep.training import make_generator  # noqa: E402

params = SETTING.params
X_time = torch.as_tensor(make_sinusoids(200, random_state=SEED + 2)[0])
torch.manual_seed(SEED)
learned = AugmentationModule.from_names(
    [params["transforms"]],
    sfreq=100.0,
    magnitude=record["augmentation"][0]["magnitude"],
    temperature=params["temperature"],
    transform_params=params["transform_params"],
)
n_inputs = X_time.shape[1] * X_time.shape[2]
trunk = params["trunk"]
models = {
    f"MLP ({trunk['n_layers']} x {trunk['width']})": AugNet(
        MLP(n_inputs, n_neurons=trunk["width"], n_layers=trunk["n_layers"]), learned
    ),
    "sinusoid CNN": AugNet(SinusoidCNN(n_classes=4), learned),
}
threads = torch.get_num_threads()
torch.set_num_threads(1)


def seconds(function, *args, **kwargs):
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


timings = []
with torch.no_grad():
    for net in models.values():
        net.eval()
    for repeat in range(N_REPEATS):
        for trunk_name, net in models.items():
            trunk_s = seconds(net.trunk, X_time)
            for n_copies in params["copies"]:
                augnet_s = seconds(
                    net, X_time, generator=make_generator(repeat), n_copies=n_copies
                )
                timings.append(
                    {
                        "trunk": trunk_name,
                        "C": n_copies,
                        "trunk_ms": 1e3 * trunk_s,
                        "ratio": augnet_s / trunk_s,
                    }
                )
torch.set_num_threads(threads)
timing = pd.DataFrame(timings)
ratio = timing.groupby(["trunk", "C"])["ratio"].quantile([0.125, 0.5, 0.875])
ratio = ratio.unstack()
ratio.columns = ["q12.5", "median", "q87.5"]
fits = {
    name: np.polyfit(part.index.get_level_values("C"), part["median"], 1)
    for name, part in ratio.groupby(level="trunk")
}
for name, (slope, intercept) in fits.items():
    trunk_ms = timing.loc[timing["trunk"] == name, "trunk_ms"].median()
    print(
        f"{name}: trunk alone {trunk_ms:.2f} ms; "
        f"median ratio ~ {intercept:.2f} + {slope:.2f} C"
    )
ratio

# %%
fig, axes = plt.subplots(1, len(models), figsize=(9, 3.2), squeeze=False)
for ax, (name, part) in zip(axes[0], ratio.groupby(level="trunk"), strict=True):
    c = part.index.get_level_values("C").to_numpy()
    slope, intercept = fits[name]
    ax.plot(c, part["median"], marker="o", label="AugNet")
    ax.fill_between(c, part["q12.5"], part["q87.5"], alpha=0.3)
    ax.plot(c, intercept + slope * c, ls=":", label=f"{intercept:.1f} + {slope:.2f} C")
    ax.axhline(1.0, color="k", ls="--", label="trunk alone")
    ax.set_title(name)
    ax.set_xlabel("copies C at inference")
    ax.set_ylabel("forward time / trunk's")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Reading the figures
#
# The averaged model estimates the expectation over the learned transforms
# that the paper's Proposition 3.1 makes invariant. C copies estimate it, so
# the accuracy should climb with C as the estimate's noise falls, C = 1 being
# a single augmented prediction (the paper's "sanity check" of Fig. B.4).
# Each copy costs one augmentation and one trunk pass over the batch, so the
# time should grow linearly in C, with a slope that is the cost of one
# augmented trunk pass relative to one plain pass: close to 1 when the trunk
# dominates (the paper's ResNet on CIFAR10), larger when the augmentation (an
# FFT per window for the frequency shift) costs more than the trunk, as for
# a tiny MLP.
