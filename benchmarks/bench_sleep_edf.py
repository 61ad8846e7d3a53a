"""AugNet vs. no augmentation on real Sleep-EDF data (issue 4, section 5).

Subjects 0-9 train, 10-11 validation (early stopping), 12-14 test, from
``../shared/data/sleep-edf-5s`` (one Fpz-Cz channel, 5-s windows at 100 Hz, in
microvolts). Both methods share the trunk (SleepStagerChambon2018), the optimiser
and the epoch budget; only ``augmentation`` differs. Reports test balanced
accuracy, Cohen's kappa, macro F1 and training time per seed, their mean and
standard deviation, and AugNet's learned augmentations.

Paper budget (at most 300 epochs, patience 30, 3 seeds; 6.5 hours on 2 CPU
cores if no run stopped early)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sleep_edf.py

On this data every fit stops early, within 60 epochs, so the run reported in
benchmarks/README.md (55-57 min) gives the same results::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sleep_edf.py \
        --max-epochs 60 --patience 30 --out /tmp/bench_sleep_edf_60.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score

from augsleep.estimator import AugNetClassifier

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleep-edf-5s"
STAGES = np.array(["W", "N1", "N2", "N3", "REM"])


def load_subjects(folder, subjects):
    """Windows (n, 1, 500) in microvolts and labels of the given subjects."""
    Xs, ys = [], []
    for path in sorted(Path(folder).glob("SC4*.npz")):
        if int(path.name[3:5]) not in subjects:
            continue
        with np.load(path) as d:  # never allow_pickle: the headers are pickled
            Xs.append(d["x"].transpose(0, 2, 1).astype(np.float32))
            ys.append(d["y"].astype(int))
            sfreq = float(d["fs"])
    if not Xs:
        raise FileNotFoundError(f"No npz file for subjects {subjects} in {folder}.")
    return np.concatenate(Xs), STAGES[np.concatenate(ys)], sfreq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["augnet", "baseline"],
        choices=["augnet", "baseline"],
    )
    parser.add_argument("--lam", type=float, default=10.0)
    parser.add_argument("--n-copies-valid", type=int, default=None)
    parser.add_argument("--out", default="bench_sleep_edf.json")
    args = parser.parse_args()

    X_tr, y_tr, sfreq = load_subjects(args.data, range(0, 10))
    X_va, y_va, _ = load_subjects(args.data, range(10, 12))
    X_te, y_te, _ = load_subjects(args.data, range(12, 15))
    print(f"windows: train {len(X_tr)}, valid {len(X_va)}, test {len(X_te)}")

    rows, augs = [], []
    for seed in args.seeds:
        for method in args.methods:
            clf = AugNetClassifier(
                "sleep" if method == "augnet" else None,
                lam=args.lam,
                sfreq=sfreq,
                ch_names=["Fpz-Cz"],
                max_epochs=args.max_epochs,
                patience=args.patience,
                n_copies_valid=args.n_copies_valid,
                random_state=seed,
                device="cpu",
                verbose=0,
            )
            start = time.perf_counter()
            clf.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
            train_s = time.perf_counter() - start
            y_pred = clf.predict(X_te)
            row = {
                "method": method,
                "seed": seed,
                "balanced_accuracy": balanced_accuracy_score(y_te, y_pred),
                "kappa": cohen_kappa_score(y_te, y_pred),
                "macro_f1": f1_score(y_te, y_pred, average="macro"),
                "train_s": train_s,
                "n_epochs": clf.n_epochs_,
                "best_epoch": clf.best_epoch_,
                "valid_balanced_accuracy": clf.best_valid_score_,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if method == "augnet":
                aug = clf.learned_augmentations_.assign(seed=seed)
                augs.append(aug)
                print(aug.to_string(float_format=lambda v: f"{v:.3f}"), flush=True)

    results = pd.DataFrame(rows)
    summary = results.groupby("method")[
        ["balanced_accuracy", "kappa", "macro_f1", "train_s", "n_epochs"]
    ].agg(["mean", "std"])
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    out = {"args": vars(args), "runs": rows}
    if augs:
        learned = pd.concat(augs)
        mean = (
            learned.groupby(["layer", "transform", "unit"], sort=False)[
                ["weight", "magnitude", "physical_value"]
            ]
            .agg(["mean", "std"])
            .round(3)
        )
        print(mean.to_string())
        out["learned_augmentations"] = learned.to_dict(orient="records")
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
