"""AugNet's defaults on 5-s windows: time ranges scaled to the window, and lambda.

The paper's Table A.4 ranges are for 30-s windows (3000 samples at 100 Hz); on
the 5-s windows of ``../shared/data/sleep-edf-5s`` (500 samples) the smooth time
mask's range of 200 samples is 40 % of a window. This study (issue 11, "Defaults
on short windows") fits AugNet on the dev split (subjects 0-9 train, 10-11
validation, 12-14 test) with:

- ``default``: today's defaults (Table A.4 ranges, lambda = 10);
- ``scaled``: the time-based ranges scaled to the window length (the smooth time
  mask's 200 samples per 3000 become 200 * n_times / 3000; the other transforms
  of the preset have ranges in Hz, microvolts or probabilities, which do not
  depend on the window's length);
- ``lam=1``, ``lam=5``, ``lam=50``: the rest of the paper's lambda grid (1, 5,
  10, 50) at Table A.4's ranges; lambda is then chosen per seed on the
  validation score, as the paper chooses it;
- ``T=1``, ``T=2``: the default with a sampled training sum
  (``n_sampled_transforms``: each layer runs 1 or 2 of its transforms per batch,
  drawn from its weights and importance-weighted; see issue 11's fit cost);
- ``none``: no augmentation, the reference.

Every configuration shares the trunk, the optimiser, the seeds and the budget.
Each finished fit is appended to ``--out`` (JSON lines) at once and skipped by
a rerun, so an interrupted study resumes where it stopped. ``--summary`` only
prints the tables of what ``--out`` holds.

Usage (the run reported in benchmarks/README.md)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_short_windows.py \
        --max-epochs 30 --patience 10 --n-copies-valid 4 --seeds 0 1 2 --threads 1 \
        --out benchmarks/short_windows.jsonl
"""

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
from bench_sleep_edf import DEFAULT_DATA, load_subjects
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score

from augsleep.augment import make_sleep_augmentation
from augsleep.estimator import AugNetClassifier

CONFIGS = ("none", "default", "scaled", "lam=1", "lam=5", "lam=50", "T=1", "T=2")
#: Samples of the smooth time mask's range in Table A.4, for 3000-sample windows.
PAPER_MASK_SAMPLES, PAPER_N_TIMES = 200.0, 3000


def make_estimator(config, sfreq, n_times, seed, args):
    """The estimator of one configuration (same budget for all)."""
    lam, augmentation, n_sampled = 10.0, "sleep", None
    if config.startswith("T="):  # the default, with a sampled training sum
        n_sampled = int(config[2:])
    elif config == "none":
        augmentation = None
    elif config == "scaled":
        # As the "sleep" preset builds it for one channel, with the range scaled.
        augmentation = make_sleep_augmentation(
            sfreq,
            sensor_layer=False,
            magnitude=0.05,
            transform_params={
                "smooth_time_mask": {
                    "max_value": PAPER_MASK_SAMPLES * n_times / PAPER_N_TIMES
                }
            },
        )
    elif config.startswith("lam="):
        lam = float(config[4:])
    return AugNetClassifier(
        augmentation,
        lam=lam,
        sfreq=sfreq,
        ch_names=["Fpz-Cz"],
        max_epochs=args.max_epochs,
        patience=args.patience,
        n_copies_valid=args.n_copies_valid,
        n_sampled_transforms=n_sampled,
        random_state=seed,
        device="cpu",
    )


def summarise(rows):
    """Mean and std per configuration, and lambda chosen on validation."""
    runs = pd.DataFrame(rows)
    metrics = ["valid_balanced_accuracy", "balanced_accuracy", "kappa", "macro_f1"]
    table = runs.groupby("config", sort=False)[metrics + ["n_epochs", "fit_s"]].agg(
        ["mean", "std"]
    )
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    # The paper's lambda grid, chosen per seed on the validation score.
    grid = runs[runs.config.isin(["default", "lam=1", "lam=5", "lam=50"])]
    chosen = grid.loc[grid.groupby("seed").valid_balanced_accuracy.idxmax()]
    if len(chosen):
        print("\nlambda chosen on validation, per seed:")
        print(
            chosen[
                ["seed", "config", "valid_balanced_accuracy", "balanced_accuracy"]
            ].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        )
        print(f"mean test balanced accuracy: {chosen.balanced_accuracy.mean():.3f}")
    learned = [
        dict(r, config=run["config"], seed=run["seed"])
        for run in rows
        for r in run.get("learned", [])
    ]
    if learned:
        mean = (
            pd.DataFrame(learned)
            .groupby(["config", "layer", "transform"], sort=False)[
                ["weight", "physical_value"]
            ]
            .mean()
        )
        top = mean.loc[mean.groupby(["config", "layer"]).weight.idxmax()]
        print("\nmost weighted transform per layer (mean over seeds):")
        print(top.to_string(float_format=lambda v: f"{v:.3f}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--n-copies-valid", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="short_windows.jsonl")
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    out = Path(args.out)
    rows = (
        [json.loads(line) for line in out.read_text().splitlines()]
        if (out.exists())
        else []
    )
    if args.summary:
        summarise(rows)
        return
    done = {(r["config"], r["seed"]) for r in rows}
    X_tr, y_tr, sfreq = load_subjects(args.data, range(0, 10))
    X_va, y_va, _ = load_subjects(args.data, range(10, 12))
    X_te, y_te, _ = load_subjects(args.data, range(12, 15))
    n_times = X_tr.shape[-1]
    print(f"windows: train {len(X_tr)}, valid {len(X_va)}, test {len(X_te)}")
    # Seeds outside, so that a partial study has every configuration of a seed.
    for seed in args.seeds:
        for config in args.configs:
            if (config, seed) in done:
                continue
            clf = make_estimator(config, sfreq, n_times, seed, args)
            start = time.perf_counter()
            clf.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
            fit_s = time.perf_counter() - start
            y_pred = clf.predict(X_te)
            row = {
                "config": config,
                "seed": seed,
                "valid_balanced_accuracy": float(clf.best_valid_score_),
                "balanced_accuracy": balanced_accuracy_score(y_te, y_pred),
                "kappa": cohen_kappa_score(y_te, y_pred),
                "macro_f1": f1_score(y_te, y_pred, average="macro"),
                "fit_s": fit_s,
                "n_epochs": int(clf.n_epochs_),
                "best_epoch": int(clf.best_epoch_),
                "args": {k: v for k, v in vars(args).items() if k != "summary"},
            }
            if config != "none":
                learned = clf.learned_augmentations_
                row["learned"] = json.loads(learned.to_json(orient="records"))
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
            print(
                f"{config} seed {seed}: valid {row['valid_balanced_accuracy']:.3f} "
                f"test {row['balanced_accuracy']:.3f} ({fit_s:.0f} s, "
                f"{row['n_epochs']} epochs)",
                flush=True,
            )
    summarise(rows)


if __name__ == "__main__":
    main()
