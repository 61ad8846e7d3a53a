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
# Run size: `AUGSLEEP_NOTEBOOK_SIZE=quick` (what CI executes) trains for 2
# epochs on 64 windows; `full` (the default) is the study.

# %% tags=["parameters"]
from augsleep.notebooks import notebook_size

SIZE = notebook_size()

# %%
import time
import warnings
from functools import partial

import numpy as np
import pandas as pd
import torch

# augsleep.demo's progress bars fall back to text without ipywidgets: fine here.
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402

from augsleep.data.sinusoids import make_sinusoids  # noqa: E402
from augsleep.demo import train_sinusoid_model  # noqa: E402
from augsleep.models import MLP  # noqa: E402
from augsleep.training import make_generator, predict_log_proba  # noqa: E402

# %%
# Figures in the notebook (after the imports: augsleep.plotting selects Agg).
# %matplotlib inline

# %%
CONFIG = {
    "full": dict(
        n_train=400,
        n_test=200,
        n_epochs=50,
        copies=[1, 2, 4, 6, 8, 10, 15, 20, 30, 40],
        n_draws=20,
        n_repeats=30,
    ),
    "quick": dict(
        n_train=64, n_test=32, n_epochs=2, copies=[1, 2, 4], n_draws=2, n_repeats=3
    ),
}[SIZE]
SEED = 0
CONFIG

# %% [markdown]
# ## One model, trained with C = 1
#
# 400 training and 200 test sinusoids (Section 4.2: 2, 4, 6 and 8 Hz, each
# frequency jittered by up to 0.5 Hz, noise of std 0.5, 10 s at 100 Hz).

# %%
X_train, y_train = map(
    torch.as_tensor, make_sinusoids(CONFIG["n_train"], random_state=SEED)
)
X_test, y_test = map(
    torch.as_tensor, make_sinusoids(CONFIG["n_test"], random_state=SEED + 1)
)
n_inputs = X_train.shape[1] * X_train.shape[2]

start = time.perf_counter()
model, history = train_sinusoid_model(
    X_train,
    y_train,
    trunk=partial(MLP, n_inputs, n_neurons=2, n_layers=1),
    layers=[["frequency_shift"]],
    lam=0.8,
    initial_magnitude=0.05,
    n_epochs=CONFIG["n_epochs"],
    random_state=SEED,
)
print(f"trained in {time.perf_counter() - start:.1f} s")
model.augmentation.summary()

# %% [markdown]
# ## Accuracy against C
#
# The same model, evaluated with C = 1 to 40 copies. Each C is evaluated with
# several independent draws of the augmentations (seeds 0, 1, ...): the line is
# the median test accuracy over draws, the band the 75 % interval.

# %%
rows = []
for n_copies in CONFIG["copies"]:
    for draw in range(CONFIG["n_draws"]):
        log_proba = predict_log_proba(
            model, X_test, n_copies=n_copies, generator=make_generator(draw)
        )
        accuracy = float((log_proba.argmax(1) == y_test).float().mean())
        rows.append({"C": n_copies, "draw": draw, "accuracy": accuracy})
accuracy = pd.DataFrame(rows)
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
# The forward pass of AugNet on the 200 test windows (no gradient, evaluation
# mode), divided by that of its trunk alone on the same windows, for two
# trunks behind the same learned augmentation: the MLP trained above and the
# paper's small sinusoid CNN (Table A.2; untrained: the time does not depend
# on the weights). Each repeat times every C once, in turn, so that a change
# in the machine's load affects all C alike; one thread, so that cores shared
# with other processes matter less. The line is the median ratio over
# repeats, the band its 75 % interval, the dotted line a least-squares line
# through the medians.

# %%
from augsleep.models import AugNet, SinusoidCNN  # noqa: E402

X_time = torch.as_tensor(make_sinusoids(200, random_state=SEED + 2)[0])
models = {
    "MLP (1 x 2)": model,
    "sinusoid CNN": AugNet(SinusoidCNN(n_classes=4), model.augmentation),
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
    for repeat in range(CONFIG["n_repeats"]):
        for trunk_name, net in models.items():
            trunk_s = seconds(net.trunk, X_time)
            for n_copies in CONFIG["copies"]:
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
