"""Why scikit-learn's class-weight check passes or fails, method by method.

``check_class_weight_classifiers`` fits a classifier with
``class_weight={0: 1000, 1: 1e-4[, 2: 1e-4]}`` on 50 windows of 2 samples
(``make_blobs(cluster_std=20)``: very noisy, 2 and 3 classes) and asserts that
more than 87 % of 50 test windows are predicted as class 0. This script
replays exactly that fit (same data, same split, ``random_state=0`` as the
check sets) and prints, per method, configuration, validation score and
problem, the fraction predicted 0, whether the check's assertion holds, the
epochs run and the epoch kept (of the final training).

Configurations:

- ``contract``: the parameters of tests/test_methods_contract.py's
  scikit-learn checks (tiny trunk, 2 epochs; a 30 % validation split for the
  methods that need one);
- ``defaults``: the method's defaults with the tiny trunk (300 epochs,
  patience 30, a 20 % validation split), not run for the searches (their
  default budget trains 20+ models per fit);
- ``defaults, no validation``: the same with ``validation_fraction=None``
  (all 300 epochs, last weights kept), for the methods that allow it.

Validation scores (``--scores``):

- ``weighted``: today's, the balanced accuracy with its per-class recalls
  weighted by a dict ``class_weight`` (``_valid_balanced_accuracy``);
- ``plain``: the plain balanced accuracy whatever ``class_weight``, as before.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/check_class_weight.py \
        [--methods none augnet ...] [--configs contract defaults ...]
"""

import argparse
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SEARCHES = {"randaugment", "random_search", "autoaugment", "fast_autoaugment"}


def blobs(n_centers):
    """The check's data and split."""
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split

    X, y = make_blobs(centers=n_centers, random_state=0, cluster_std=20)
    return train_test_split(X, y, test_size=0.5, random_state=0)


def make(name, config):
    import test_methods_contract as contract
    from _toy import TinyTrunk

    from augsleep.methods import METHODS

    if config == "contract":
        return next(
            est for est in contract._CHECKED if type(est) is METHODS[name]
        ).set_params()
    params = dict(trunk=TinyTrunk(), sfreq=100.0, device="cpu")
    if config == "defaults, no validation":
        params["validation_fraction"] = None
    return METHODS[name](**params)


def replay(name, config, score, n_centers):
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import balanced_accuracy_score

    from augsleep.methods import BaseSleepClassifier

    X_train, X_test, y_train, y_test = blobs(n_centers)
    weights = {0: 1000, 1: 0.0001, 2: 0.0001} if n_centers == 3 else {0: 1000, 1: 1e-4}
    clf = clone(make(name, config)).set_params(class_weight=weights, random_state=0)
    original = BaseSleepClassifier._valid_balanced_accuracy
    if score == "plain":
        BaseSleepClassifier._valid_balanced_accuracy = lambda self, t, p: (
            balanced_accuracy_score(t, p)
        )
    try:
        clf.fit(X_train, y_train)
    finally:
        BaseSleepClassifier._valid_balanced_accuracy = original
    frac0 = float(np.mean(clf.predict(X_test) == 0))
    validated = clf.history_["valid_balanced_accuracy"].notna().any()
    return {
        "frac0": frac0,
        "passes": frac0 > 0.87,
        "n_epochs": int(clf.n_epochs_),
        "best_epoch": int(clf.best_epoch_),
        "best_valid": float(clf.best_valid_score_) if validated else float("nan"),
    }


def main():
    import torch

    from augsleep.methods import METHODS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=sorted(METHODS))
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["contract", "defaults", "defaults, no validation"],
    )
    parser.add_argument("--scores", nargs="+", default=["weighted", "plain"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| method | configuration | validation score | classes | predicted 0 "
        "| check | epochs | kept epoch | kept validation score |"
    )
    print("| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for name in args.methods:
        for config in args.configs:
            if config != "contract" and name in SEARCHES:
                continue
            for score in args.scores:
                if config == "defaults, no validation" and score == "plain":
                    continue  # no validation: the score plays no part
                for n_centers in (2, 3):
                    r = replay(name, config, score, n_centers)
                    print(
                        f"| {name} | {config} | {score} | {n_centers} | "
                        f"{r['frac0']:.2f} | {'passes' if r['passes'] else 'FAILS'} "
                        f"| {r['n_epochs']} | {r['best_epoch']} | "
                        f"{r['best_valid']:.3f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
