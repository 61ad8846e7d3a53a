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
# # Sleep staging: AugNet against ADDA and the other augmentation baselines
#
# The paper's Section 5.2 (Fig. 6b, Fig. B.9) on real sleep data: does AugNet,
# which learns its augmentation end to end with the trunk, reach the accuracy
# of ADDA (the bilevel, DARTS-style search of a 5 x 2 policy) and of the other
# automatic data augmentation (ADA) methods, and how much compute does each
# need to get there?
#
# Every method of `augsleep.methods.METHODS` is trained by the pipeline
# `pipelines/sleep-edf-5s.yml` on the shared Sleep-EDF nights
# (`../shared/data/sleep-edf-5s`: 15 subjects, the first 5 s of each scored
# 30-s epoch, Fpz-Cz at 100 Hz) over subject-wise folds (10 training, 2
# validation, 3 test subjects each). The notebook runs that pipeline (or
# resumes it: finished tasks are read from their records, nothing is
# recomputed) and reads its records:
#
# 1. the table of test scores and compute times, and the paper's Fig. 6b:
#    the test balanced accuracy of the best-validated checkpoint against
#    compute time (pretraining + search + retraining);
# 2. AugNet and ADDA side by side, fold by fold;
# 3. the augmentations each method learned, side by side;
# 4. each trained model's invariance (the paper's Eq. 4) to the transforms
#    AugNet selected, as the paper's Fig. B.9.
#
# Run size: `AUGSLEEP_NOTEBOOK_SIZE=quick` (what CI executes) runs the quick
# size of `pipelines/sleep-edf-5s.yml` (its `sizes.quick`: the first night of
# 3 subjects, one epoch per fit, 2 trials or search epochs per search), so it
# only shows that every step runs on real nights; `full` (the default) runs
# the file as written (its budget and duration are in the file). To read a
# run made elsewhere with `augsleep run pipelines/sleep-edf-5s.yml --out DIR`,
# set `AUGSLEEP_SLEEP_EDF_5S_RESULTS=DIR`. The data folder is found from the
# pipeline file, or from `AUGSLEEP_SLEEP_EDF_5S`.

# %% tags=["parameters"]
from augsleep.notebooks import notebook_size, pipeline_path, results_dir

SIZE = notebook_size()

# %%
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt

from augsleep.pipeline import build_report, load_model, load_pipeline, run_pipeline
from augsleep.pipeline.datasets import load_subjects
from augsleep.pipeline.records import read_records
from augsleep.pipeline.report import results_table

# %%
# Figures in the notebook (after the imports: augsleep.plotting selects Agg).
# %matplotlib inline

# %%
CONFIG = {
    "full": dict(scheduler="local", n_invariance=1000),
    "quick": dict(scheduler="sync", n_invariance=200),
}[SIZE]
pipeline = load_pipeline(pipeline_path("sleep-edf-5s"), size=SIZE)
OUT = Path(
    os.environ.get("AUGSLEEP_SLEEP_EDF_5S_RESULTS") or results_dir(pipeline.name, SIZE)
)
{**CONFIG, "out": str(OUT), "data": pipeline.dataset["path"]}

# %% [markdown]
# ## Running the pipeline
#
# One task per fold x method x seed. A `LocalCluster` of 2 workers runs the
# full size (`scheduler="sync"`, one task after another in this kernel, the
# quick one); each finished task writes its record (and, as the pipeline file
# asks with `save_models: true`, its fitted model) before the next starts, so
# an interrupted run keeps what it finished and this cell resumes it.

# %%
summary = run_pipeline(
    pipeline, OUT, scheduler=CONFIG["scheduler"], n_workers=2, progress=True
)
print(
    f"{summary.n_tasks} tasks: {summary.n_skipped} read from earlier records, "
    f"{summary.n_run} run now ({summary.n_failed} failed) in {summary.wall_s:.0f} s"
)
manifest = json.loads((OUT / "manifest.json").read_text())
records = read_records(OUT / "records", [t["record"] for t in manifest["tasks"]])
ok = [r for r in records if r["status"] == "ok"]
failed = [r["task_id"] for r in records if r["status"] != "ok"]
assert not failed, f"failed tasks (their records hold the tracebacks): {failed}"
methods = manifest["methods"]
folds = sorted({r["fold"] for r in ok})
print(f"{len(ok)} records, folds {folds}, methods {methods}")

# %% [markdown]
# ## Scores and compute time
#
# Test scores of each method's final model (the retrained model of its
# best-validated checkpoint, for the searches), mean and standard deviation
# over folds; `compute_time_h` is everything the method trained: pretraining,
# search and retraining, measured wall-clock by the method itself.

# %%
table = results_table(ok, methods).set_index("method")
columns = [c for c in table.columns if c.endswith(("_mean", "_std"))]
display(table[columns].round(3))

# %%
per_fold = pd.DataFrame(
    [
        {
            "method": r["method"],
            "fold": r["fold"],
            "test_balanced_accuracy": r["metrics"]["test"]["balanced_accuracy"],
        }
        for r in ok
    ]
).pivot_table(index="method", columns="fold", values="test_balanced_accuracy")
display(per_fold.loc[methods].round(3))

# %% [markdown]
# The paper's Fig. 6b: for each method, the test balanced accuracy of the
# checkpoint with the best validation score so far, median over folds,
# against the compute time spent to reach it. Searches record a checkpoint
# every few trials or search epochs (the policy found so far, retrained from
# scratch); AugNet, Augerino and the fixed augmentations are one point each.
# The dashed line is the model trained without augmentation. Fig. B.10 adds
# the 25-75 % band over folds.

# %%
written = build_report(OUT)
for note in written["notes"]:
    print(note)
display(Image(filename=str(written["fig6b.png"])))

# %%
# build_report draws with the Agg backend: back to inline figures.
# %matplotlib inline

# %% [markdown]
# ## AugNet and ADDA, fold by fold
#
# The paper's claim: AugNet is "comparable in speed and accuracy" to ADDA,
# "while being trained end-to-end". ADDA's checkpoints are its policy after
# every few search epochs, retrained from scratch; its compute time includes
# the warm start of the trunk. The rows below are what this run measured.

# %%
by_task = {(r["method"], r["fold"]): r for r in ok}


def checkpoint_rows(record):
    """Each checkpoint of a search (or the single fit) as time and scores."""
    rows = record.get("checkpoints") or [
        {
            "total_s": record["compute_time"]["total_s"],
            "valid_balanced_accuracy": record["metrics"]["valid"]["balanced_accuracy"],
            "test_balanced_accuracy": record["metrics"]["test"]["balanced_accuracy"],
        }
    ]
    return [
        {
            "method": record["method"],
            "fold": record["fold"],
            "hours": row["total_s"] / 3600,
            "valid": row["valid_balanced_accuracy"],
            "test": row["test_balanced_accuracy"],
        }
        for row in rows
    ]


pair = [m for m in ("augnet", "adda") if m in methods]
side = pd.DataFrame(
    [row for m in pair for f in folds for row in checkpoint_rows(by_task[m, f])]
)
display(side.round(3))
if len(pair) == 2:
    final = {
        m: np.array(
            [by_task[m, f]["metrics"]["test"]["balanced_accuracy"] for f in folds]
        )
        for m in pair
    }
    hours = {
        m: np.array([by_task[m, f]["compute_time"]["total_s"] / 3600 for f in folds])
        for m in pair
    }
    wins = int((final["augnet"] > final["adda"]).sum())
    display(
        Markdown(
            f"Over {len(folds)} fold(s), AugNet's final test balanced accuracy is "
            f"{final['augnet'].mean():.3f} on average against ADDA's "
            f"{final['adda'].mean():.3f} (AugNet higher on {wins} of {len(folds)}), "
            f"for {hours['augnet'].mean():.2f} h of compute against "
            f"{hours['adda'].mean():.2f} h."
        )
    )

# %% [markdown]
# ## What each method learned
#
# The policy methods (the searches, ADDA, CADDA, DADA, Faster AutoAugment)
# learn 5 sub-policies of 2 stages; a window gets one sub-policy, and each
# stage applies its operation with its probability. AugNet and Augerino learn
# layers whose softmax weights say how often each transform is applied;
# RandAugment draws its operations uniformly; the fixed method applies its
# transforms with probability 0.5. To put them side by side, the first
# heatmap shows, for every method and transform, the **expected number of
# times the transform is applied to a window** (the sum over layers or stages
# of the probability that a window gets it there; CADDA's class-wise
# policies averaged over classes), the second the magnitude in [0, 1] at
# which it is applied (weighted mean; blank for transforms without one, such
# as time reverse). Both are means over folds.


# %%
def usage(record):
    """Expected applications per window and mean magnitude, per transform.

    From the method's ``augmentation_summary_``: one row per (layer or stage,
    transform) whose ``weight`` is the probability that a window gets that
    transform there (for a policy: sub-policy weight x operation weight x
    probability; for CADDA, per class, so its classes are averaged).
    """
    frame = pd.DataFrame(record.get("augmentation_summary") or [])
    if frame.empty:  # no augmentation
        return pd.DataFrame(columns=["use", "magnitude"])
    policy = pd.DataFrame(record.get("policy") or [])
    n_classes = policy["class"].nunique() if "class" in policy else 1
    frame["use"] = frame["weight"] / n_classes
    frame["weighted_magnitude"] = frame["use"] * frame["magnitude"].astype(float)
    grouped = frame.groupby("transform")[["use", "weighted_magnitude"]].sum(min_count=1)
    grouped["magnitude"] = grouped["weighted_magnitude"] / grouped["use"].where(
        grouped["use"] > 0
    )
    return grouped[["use", "magnitude"]]


learned = pd.concat(
    [usage(r).assign(method=r["method"], fold=r["fold"]) for r in ok]
).reset_index(names="transform")
use = learned.pivot_table(index="method", columns="transform", values="use")
use = use.reindex([m for m in methods if m in use.index]).fillna(0.0)
magnitude = learned.pivot_table(index="method", columns="transform", values="magnitude")
magnitude = magnitude.reindex(index=use.index, columns=use.columns)

fig, axes = plt.subplots(1, 2, figsize=(13, 0.6 + 0.35 * len(use)), sharey=True)
for ax, values, title, cmap in (
    (axes[0], use, "expected applications per window", "Blues"),
    (axes[1], magnitude, "magnitude where applied", "Oranges"),
):
    im = ax.imshow(values.to_numpy(float), aspect="auto", cmap=cmap)
    ax.set_xticks(range(values.shape[1]), values.columns, rotation=60, ha="right")
    ax.set_yticks(range(len(values)), values.index)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
fig.tight_layout()
plt.show()

# %% [markdown]
# The transforms AugNet weighs most, with the magnitude it learned, and the
# physical value it stands for (Table A.4's ranges), fold by fold:

# %%
augnet_layers = pd.concat(
    [
        pd.DataFrame(by_task["augnet", f]["augmentation_summary"]).assign(fold=f)
        for f in folds
        if "augnet" in methods
    ]
)
display(
    augnet_layers.sort_values(["fold", "weight"], ascending=[True, False])
    .groupby("fold")
    .head(3)
    .round(3)
)

# %% [markdown]
# ## Invariance to the transforms AugNet selected (Fig. B.9)
#
# For the three transforms AugNet weighs most (mean weight over folds), at the
# mean magnitude it learned for them, each method's model is scored on its
# fold's test windows (a seeded subset) by the invariance of Eq. 4: 1 when the
# transform leaves the model's output unchanged, 0 when it moves it as far as
# swapping the window for another. The transform acts on the windows as each
# model scaled them, and each model is its whole inference (AugNet and
# Augerino average their augmented copies). Points are medians over windows,
# one per fold; bars are their mean.

# %%
mean_weights = augnet_layers.groupby("transform")["weight"].mean()
selected = mean_weights.sort_values(ascending=False).index[:3].tolist()
selected_magnitude = (
    augnet_layers[augnet_layers["transform"].isin(selected)]
    .groupby("transform")["magnitude"]
    .mean()
)
print({t: round(float(selected_magnitude[t]), 3) for t in selected})

rows = []
for fold in folds:
    test_subjects = by_task[methods[0], fold]["subjects"]["test"]
    X, y, _, _ = load_subjects(
        {**pipeline.dataset, "cache_dir": None}, sorted(test_subjects)
    )
    subset = np.random.default_rng(fold).permutation(len(X))[: CONFIG["n_invariance"]]
    X = X[np.sort(subset)]
    for method in methods:
        clf = load_model(OUT, by_task[method, fold])
        for transform in selected:
            scores = clf.invariance_score(
                X,
                transform,
                magnitude=float(selected_magnitude[transform]),
                random_state=fold,
            )
            rows.append(
                {
                    "method": method,
                    "fold": fold,
                    "transform": transform,
                    "median_invariance": float(np.median(scores)),
                }
            )
invariance = pd.DataFrame(rows)
display(
    invariance.pivot_table(
        index="method", columns="transform", values="median_invariance"
    )
    .loc[methods]
    .round(3)
)

# %%
fig, ax = plt.subplots(figsize=(9, 3.5))
width = 0.8 / len(methods)
for i, method in enumerate(methods):
    part = invariance[invariance["method"] == method]
    centres = np.arange(len(selected)) + (i - (len(methods) - 1) / 2) * width
    means = [
        part.loc[part["transform"] == t, "median_invariance"].mean() for t in selected
    ]
    ax.bar(centres, means, width, label=method)
    for c, t in zip(centres, selected, strict=True):
        points = part.loc[part["transform"] == t, "median_invariance"]
        ax.plot(np.full(len(points), c), points, "k.", ms=3)
ax.set_xticks(range(len(selected)), selected)
ax.set_ylabel("median invariance (Eq. 4)")
ax.legend(fontsize=7, ncol=4, loc="lower left")
ax.set_title("Invariance of each model to the transforms AugNet selected", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Reading the results
#
# - The table and Fig. 6b are the measured answer to the paper's question on
#   this data and budget; `benchmarks/README.md` ("Sleep-EDF: accuracy against
#   compute") records the full-size run with its command and discusses it.
# - A method's augmentation should make its model more invariant to the
#   transforms it applies: compare each row of the invariance table with its
#   row in the heatmaps. Models trained without augmentation are the reference.
# - At the quick size every number is noise (one epoch on one night): it only
#   checks that loading, every method, the records, the report, the saved
#   models and the invariance measurement run end to end on real nights.
