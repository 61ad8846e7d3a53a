"""Fit cost of AugNet against no augmentation, and what cheaper validation costs.

AugNetClassifier scores its validation set after every epoch with
``n_copies_valid`` augmented copies (default: ``n_copies_eval`` = 20, the
paper's), which on small windows costs more than the training itself. This
script fits, interleaved (one round per seed, the configurations in a new
seeded random order every round):

- ``none``: the trunk alone (``augmentation=None``; its validation is one
  prediction of the validation set per epoch), the reference of every ratio;
- ``C=20``: AugNet with today's validation (the paper's: every epoch, all the
  validation windows, 20 copies);
- AugNet with cheaper validation: fewer copies (``C=``: ``n_copies_valid``),
  a validation subsample drawn once per fit (``sub=``: ``valid_subsample``, a
  fraction with a dot, else a number of windows), validation every k epochs
  only (``every=``: ``valid_every``), or a combination (``C=4,every=2``);
- AugNet with a cheaper training step: each layer runs ``T`` of its
  transforms per batch, drawn from its weights and importance-weighted
  (``T=``: ``n_sampled_transforms``, an unbiased estimate of the paper's sum),
  e.g. ``T=2,C=4``;
  ``--configs`` picks them (default: ``none``, ``C=20``, ``C=1``, ``C=4``,
  ``C=20,every=3``, ``C=20,sub=0.25``).

It prints, per configuration, the fit wall time divided by the baseline's of
the same round (the target's measure), the same ratio for the fastest epochs
(number of epochs x the fastest training epoch, plus validations x the fastest
validation: what the fit would take without the other processes of a shared
machine, which only ever add time), the process CPU time ratio, the seconds
spent validating, and, per seed, the epochs run, the best (restored) epoch,
the early-stopping score (the balanced accuracy the configuration itself
measured), the balanced accuracy of the restored model on the whole
validation set at 20 copies (``score``, i.e. the prediction's draws), and the
test balanced accuracy. All the AugNet configurations of one seed without
``T=`` train the same trajectory (validation draws from its own generator; the
script checks the training losses): their test accuracies differ only through
the epoch that validation selects, or through where early stopping stops with
``--patience``.

With ``--replay`` nothing is timed: one AugNet fit per seed (``--max-epochs``
epochs, paper's validation) records after every epoch the score of every
configuration's validation (its copies and subsample, the estimator's draws)
and the test balanced accuracy; each configuration's early stopping is then
replayed on its scores (validated epochs, strict improvement, patience in
epochs, as ``fit_loop``) for every ``--replay-patience``, giving its best
epoch and the test accuracy of the weights it would keep. This is exact
because the trajectory is shared; the fits of the timing mode agree with it.

Data:

- ``sleep-edf``: real Sleep-EDF windows of ``../shared/data/sleep-edf-5s`` (1
  x 500 at 100 Hz, Fpz-Cz), split by subject (default: train 0-3, 8154
  windows; validation 4, 2435; test 5-6, 3777: validation is 0.30 of training,
  0.33 in a 0-5 / 6-7 split), loaded with ``augsleep.data.load_npz``;
- ``mass``: MASS-shaped synthetic PSG (6 EEG channels, 30-s windows of 3000
  samples after resampling to 100 Hz, sensor layer on): ``write_mass`` nights
  driven by 200 epochs of the real Sleep-EDF hypnograms of subjects 0-7 (from
  30 min after sleep onset), written as MASS subjects 1-8 and read back with
  ``load_mass``; subjects 1-4 train (800 windows), 5-6 validation (400), 7-8
  test (400).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_fit_cost.py --dataset sleep-edf \
        --seeds 0 1 [--threads 1] [--max-epochs 6] [--patience P] [--out F.json]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_fit_cost.py --dataset mass \
        --seeds 0 1 [--threads 1]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_fit_cost.py --dataset sleep-edf \
        --replay --max-epochs 20 --seeds 0 1 2 [--replay-patience none 3 5]

Without ``--patience`` every fit runs ``--max-epochs`` epochs (the ratios are
then at the same epochs) and restores its best validated epoch; with it, early
stopping stops each fit on its own validation curve.
"""

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from augsleep.estimator import AugNetClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_CONFIGS = [
    "none",
    "C=20",
    "C=1",
    "C=4",
    "C=20,every=3",
    "C=20,sub=0.25",
]
TARGETS = {"sleep-edf": 3.0, "mass": 2.0}
KEYS = {
    "C": "n_copies_valid",
    "every": "valid_every",
    "sub": "valid_subsample",
    "T": "n_sampled_transforms",
}


def parse_config(spec):
    """``"C=4,every=2"`` -> AugNetClassifier keyword arguments (None: baseline)."""
    if spec == "none":
        return None
    kwargs = {}
    for item in spec.split(","):
        key, _, value = item.partition("=")
        if key not in KEYS or not value:
            raise argparse.ArgumentTypeError(
                f"bad configuration {spec!r}: use 'none' or key=value items with "
                f"keys {sorted(KEYS)}, e.g. 'C=4,every=2'"
            )
        kwargs[KEYS[key]] = float(value) if "." in value else int(value)
    return kwargs


def subject_range(text):
    """``"0-5"`` -> [0, ..., 5]; ``"3"`` -> [3]."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def load_sleep_edf(args):
    """Windows (n, 1, 500) in microvolts, labels and context, by subject."""
    from augsleep.data import load_npz, to_numpy

    folder = DATA / "sleep-edf-5s"
    parts = {}
    for name, subjects in (
        ("train", args.train),
        ("valid", args.valid),
        ("test", args.test),
    ):
        X, y, _ = to_numpy(load_npz(folder, subjects=subjects, progress=False))
        parts[name] = (X, y)
    context = dict(sfreq=100.0, ch_names=["Fpz-Cz"])
    return parts, context, "sleep-edf-5s (1 x 500 @ 100 Hz, Fpz-Cz)"


def load_mass_like(args):
    """Synthetic MASS nights (6 x 3000 at 100 Hz), split by subject."""
    import mne

    from augsleep.channels import positions_from_info
    from augsleep.data import (
        MASS_CHANNELS,
        crop_hypnogram,
        load_mass,
        to_numpy,
        write_mass,
    )

    subjects = list(range(8))
    parts = {}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        for subject in subjects:
            (path,) = sorted(
                (DATA / "sleep-edf-hypnograms").glob(
                    f"SC4{subject:02d}1*-Hypnogram.edf"
                )
            )
            ann = mne.read_annotations(path)
            stage = np.array([d[-1] in "1234R" for d in ann.description])
            onset = float(ann.onset[stage][0]) + 1800.0
            hyp = crop_hypnogram(ann, onset, onset + 30.0 * args.mass_epochs)
            write_mass(hyp, folder, subject + 1, random_state=subject)
        written = time.perf_counter() - start
        ds = load_mass(folder, progress=False)
        X, y, groups = to_numpy(ds)
        positions = positions_from_info(ds.datasets[0].raw.info)
    loaded = time.perf_counter() - start - written
    print(
        f"{len(subjects)} nights: written in {written:.0f} s, loaded in {loaded:.0f} s"
    )
    for name, ids in (("train", [1, 2, 3, 4]), ("valid", [5, 6]), ("test", [7, 8])):
        keep = np.isin(groups, ids)
        parts[name] = (X[keep], y[keep])
    context = dict(sfreq=100.0, ch_names=list(MASS_CHANNELS), positions=positions)
    return parts, context, "synthetic MASS (6 x 3000 @ 100 Hz, sensor layer)"


def fit_one(spec, seed, parts, context, args):
    """Fit one configuration; return its measures and its training losses."""
    kwargs = parse_config(spec)
    clf = AugNetClassifier(
        None if kwargs is None else "sleep",
        **(kwargs or {}),
        **context,
        max_epochs=args.max_epochs,
        patience=args.patience,
        random_state=seed,
        device="cpu",
    )
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = (
        parts["train"],
        parts["valid"],
        parts["test"],
    )
    cpu = time.process_time()
    clf.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
    cpu_s = time.process_time() - cpu
    history = clf.history_
    validated = history.valid_balanced_accuracy.notna()
    with warnings.catch_warnings():
        # A stage missing from a small test night makes sklearn warn.
        warnings.simplefilter("ignore", UserWarning)
        row = {
            "config": spec,
            "seed": seed,
            "fit_s": clf.compute_time_["total_s"],
            "fit_cpu_s": cpu_s,
            "train_s": float(history.train_s.sum()),
            "valid_s": float(history.valid_s.sum()),
            # Every epoch does the same work: the fastest epoch times their
            # number bounds the time on an idle machine (others' load only adds).
            "fit_min_s": float(
                len(history) * history.train_s.min()
                + validated.sum() * history.valid_s[validated].min()
            ),
            "n_epochs": int(clf.n_epochs_),
            "n_validations": int(validated.sum()),
            "best_epoch": int(clf.best_epoch_),
            "early_stopping_score": float(clf.best_valid_score_),
            # The restored model at the prediction's 20 copies, all windows.
            "valid_ba": float(clf.score(X_va, y_va)),
            "test_ba": float(clf.score(X_te, y_te)),
        }
    return row, history.train_loss.to_numpy()


def same_start(a, b):
    """Whether two loss curves are equal over their common epochs."""
    n = min(len(a), len(b))
    return bool(np.array_equal(a[:n], b[:n]))


def fmt(values, digits=3):
    return ", ".join(f"{v:.{digits}f}" for v in values)


def report(rows, configs, seeds, target):
    """Print the two markdown tables (time, accuracy) of the runs."""
    by = {(r["config"], r["seed"]): r for r in rows}
    print(
        "\n| validation | fit s (median) | fit / baseline, per round | median | "
        f"target <= {target:g} | fastest epochs / baseline's, per round | CPU "
        "time / baseline's, median | validation s (share of fit) |"
    )
    print("| --- | ---: | --- | ---: | --- | --- | ---: | --- |")
    for spec in configs:
        rs, base = [by[spec, s] for s in seeds], [by["none", s] for s in seeds]
        ratios = [r["fit_s"] / b["fit_s"] for r, b in zip(rs, base, strict=True)]
        cpu = [r["fit_cpu_s"] / b["fit_cpu_s"] for r, b in zip(rs, base, strict=True)]
        fastest = [
            r["fit_min_s"] / b["fit_min_s"] for r, b in zip(rs, base, strict=True)
        ]
        share = [r["valid_s"] / r["fit_s"] for r in rs]
        med = float(np.median(ratios))
        print(
            f"| {spec} | {np.median([r['fit_s'] for r in rs]):.0f} | "
            f"{fmt(ratios, 2)} | **{med:.2f}** | "
            f"{'met' if med <= target else 'not met'} | {fmt(fastest, 2)} | "
            f"{np.median(cpu):.2f} | "
            f"{fmt([r['valid_s'] for r in rs], 1)} ({fmt(share, 2)}) |"
        )
    print(
        "\n| validation | epochs run | validations | best epoch | early-stopping "
        "score | validation BA (C=20, all) | test BA | mean test BA | "
        "test BA - C=20's |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | ---: | ---: |")
    for spec in configs:
        rs = [by[spec, s] for s in seeds]
        diff_text = ""
        if "C=20" in configs and spec != "none":
            diff = [by[spec, s]["test_ba"] - by["C=20", s]["test_ba"] for s in seeds]
            diff_text = f"{np.mean(diff):+.3f}"
        print(
            f"| {spec} | {', '.join(str(r['n_epochs']) for r in rs)} "
            f"| {', '.join(str(r['n_validations']) for r in rs)} "
            f"| {', '.join(str(r['best_epoch']) for r in rs)} "
            f"| {fmt([r['early_stopping_score'] for r in rs])} "
            f"| {fmt([r['valid_ba'] for r in rs])} "
            f"| {fmt([r['test_ba'] for r in rs])} "
            f"| {np.mean([r['test_ba'] for r in rs]):.3f} | {diff_text} |"
        )


class _ReplayClassifier(AugNetClassifier):
    """AugNet that records, after every epoch, what each validation would score.

    For every distinct ``(copies, subsample)`` of the configurations it scores
    the validation windows exactly as ``AugNetClassifier`` does when fitted with
    them (same subsample, same draws), and it scores the test set as
    ``predict`` would at that epoch. It trains the paper's way (every epoch, 20
    copies, no early stopping); the configurations only change which epoch is
    kept, so :func:`select` replays their early stopping on these records.
    """

    def _run_fit_loop(self, data, seeds):
        self._schemes = {}
        for copies, subsample in self.replay_schemes:
            self.valid_subsample = subsample
            keep = self._valid_subset(data.y_valid, seeds.valid)
            if keep is None:
                keep = np.arange(len(data.y_valid))
            self._schemes[copies, subsample] = (
                data.X_valid[torch.as_tensor(keep)],
                data.y_valid[keep],
            )
        self.valid_subsample = None
        X_te, y_te = self.replay_test
        self._test = (self._scale(X_te), np.searchsorted(self.classes_, y_te))
        self._valid_seed = seeds.valid
        return super()._run_fit_loop(data, seeds)

    def _extra_record(self, module):
        record = dict(super()._extra_record(module))
        for (copies, subsample), (X, y) in self._schemes.items():
            y_pred = self._predict_encoded(X, self._valid_seed, copies)
            record[f"score/{copies}/{subsample}"] = balanced_accuracy_score(y, y_pred)
        X_te, y_te = self._test
        y_pred = self._predict_encoded(X_te, self._predict_seed, self.n_copies_eval)
        record["test_ba"] = balanced_accuracy_score(y_te, y_pred)
        return record


def scheme(kwargs):
    """The ``(copies, subsample)`` a configuration scores with."""
    return kwargs.get("n_copies_valid") or 20, kwargs.get("valid_subsample")


def select(scores, every, patience):
    """Replay fit_loop's validation and early stopping on per-epoch scores.

    Returns (epochs run, best epoch): the epochs validated are every
    ``every``-th and the last; the best is the first strict maximum; training
    stops at the first validated epoch ``patience`` or more epochs after it.
    """
    n = len(scores)
    best, best_epoch = -np.inf, 0
    for epoch in range(n):
        if (epoch + 1) % every and epoch != n - 1:
            continue
        if scores[epoch] > best:
            best, best_epoch = scores[epoch], epoch
        elif patience is not None and epoch - best_epoch >= patience:
            return epoch + 1, best_epoch
    return n, best_epoch


def replay(args, parts, context):
    """One AugNet fit per seed; every configuration's early stopping replayed."""
    specs = [c for c in args.configs if c != "none"]
    kwargs = {c: parse_config(c) for c in specs}
    schemes = sorted({(20, None), *(scheme(k) for k in kwargs.values())}, key=str)
    (X_tr, y_tr), (X_va, y_va) = parts["train"], parts["valid"]
    rows = []
    for seed in args.seeds:
        clf = _ReplayClassifier(
            "sleep",
            **context,
            max_epochs=args.max_epochs,
            patience=None,
            random_state=seed,
            device="cpu",
        )
        clf.replay_schemes, clf.replay_test = schemes, parts["test"]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
        history = clf.history_
        print(
            f"seed {seed}: {len(history)} epochs in {time.perf_counter() - start:.0f} "
            "s; per epoch, test BA "
            f"{fmt(history.test_ba)}; validation BA (C=20, all) "
            f"{fmt(history['score/20/None'])}",
            flush=True,
        )
        for spec in specs:
            copies, subsample = scheme(kwargs[spec])
            scores = history[f"score/{copies}/{subsample}"].to_numpy()
            for patience in args.replay_patience:
                n_run, best = select(
                    scores, kwargs[spec].get("valid_every", 1), patience
                )
                rows.append(
                    {
                        "config": spec,
                        "seed": seed,
                        "patience": patience,
                        "n_epochs": n_run,
                        "best_epoch": best,
                        "early_stopping_score": float(scores[best]),
                        "valid_ba": float(history["score/20/None"][best]),
                        "test_ba": float(history.test_ba[best]),
                    }
                )
    print(
        "\n| validation | patience | epochs run | best epoch | validation BA "
        "(C=20, all) | test BA | mean test BA | test BA - C=20's |"
    )
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: |")
    by = {(r["config"], r["seed"], r["patience"]): r for r in rows}
    for patience in args.replay_patience:
        for spec in specs:
            rs = [by[spec, s, patience] for s in args.seeds]
            ref = (
                [by["C=20", s, patience] for s in args.seeds] if "C=20" in specs else rs
            )
            diff = np.mean(
                [r["test_ba"] - q["test_ba"] for r, q in zip(rs, ref, strict=True)]
            )
            print(
                f"| {spec} | {patience} | {', '.join(str(r['n_epochs']) for r in rs)} "
                f"| {', '.join(str(r['best_epoch']) for r in rs)} "
                f"| {fmt([r['valid_ba'] for r in rs])} "
                f"| {fmt([r['test_ba'] for r in rs])} "
                f"| {np.mean([r['test_ba'] for r in rs]):.3f} | {diff:+.3f} |"
            )
    return rows


def patience_value(text):
    """``"5"`` -> 5; ``"none"`` -> None."""
    return None if text.lower() == "none" else int(text)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", choices=sorted(TARGETS), default="sleep-edf")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping's patience (default: none, every fit runs "
        "--max-epochs epochs and restores its best validated epoch)",
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=DEFAULT_CONFIGS,
        help="'none' and AugNet validations such as 'C=20', 'C=1', "
        "'C=20,every=3', 'C=20,sub=0.25' (fraction) or 'sub=500' (windows)",
    )
    parser.add_argument("--train", type=subject_range, default=subject_range("0-3"))
    parser.add_argument("--valid", type=subject_range, default=subject_range("4"))
    parser.add_argument("--test", type=subject_range, default=subject_range("5-6"))
    parser.add_argument(
        "--mass-epochs", type=int, default=200, help="30-s epochs per MASS night"
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="instead of timing: one AugNet fit per seed that records every "
        "configuration's validation score and the test score at every epoch, "
        "then replays each configuration's early stopping",
    )
    parser.add_argument(
        "--replay-patience",
        type=patience_value,
        nargs="+",
        default=[None, 3, 5],
        help="patience values replayed ('none': restore the best, never stop)",
    )
    parser.add_argument("--out", default=None, help="JSON file of every fit")
    args = parser.parse_args()
    for spec in args.configs:
        parse_config(spec)
    if "none" not in args.configs:
        parser.error("--configs needs 'none', the reference of the ratios")

    if args.threads:
        torch.set_num_threads(args.threads)
    load = load_sleep_edf if args.dataset == "sleep-edf" else load_mass_like
    parts, context, source = load(args)
    sizes = ", ".join(f"{k} {len(v[1])}" for k, v in parts.items())
    print(
        f"data: {source}; windows: {sizes}; torch threads {torch.get_num_threads()}; "
        f"max_epochs {args.max_epochs}, patience {args.patience}"
    )
    if args.replay:
        rows = replay(args, parts, context)
        if args.out:
            out = {"args": vars(args), "replay": rows}
            Path(args.out).write_text(json.dumps(out, indent=1))
        return
    # Warm-up (first-call costs of torch and the augmentation, at the shapes of
    # the last training batch and of the validation batches), not measured.
    X_tr, y_tr = parts["train"]
    # Spread over the night(s), so that every stage of the validation set is in.
    warm = np.linspace(0, len(y_tr) - 1, 256 + len(y_tr) % 16).astype(int)
    small = {**parts, "train": (X_tr[warm], y_tr[warm])}
    for spec in ("none", "C=1"):
        fit_one(
            spec, 0, small, context, argparse.Namespace(max_epochs=1, patience=None)
        )

    rows, losses = [], {}
    for round_, seed in enumerate(args.seeds):
        order = np.random.RandomState(round_).permutation(len(args.configs))
        for i in order:
            spec = args.configs[i]
            row, losses[spec, seed] = fit_one(spec, seed, parts, context, args)
            rows.append(row)
            print(
                json.dumps(
                    {
                        k: round(v, 4) if isinstance(v, float) else v
                        for k, v in row.items()
                    }
                ),
                flush=True,
            )
        # Validation draws do not touch training; a sampled sum (T=) does.
        augnet = [s for s in args.configs if s != "none" and "T=" not in s]
        if augnet:
            same = all(
                same_start(losses[augnet[0], seed], losses[s, seed]) for s in augnet
            )
            print(
                f"seed {seed}: the AugNet configurations without T= trained the same "
                f"trajectory (equal training losses over their common epochs): {same}"
            )

    report(rows, args.configs, args.seeds, TARGETS[args.dataset])
    if args.out:
        Path(args.out).write_text(
            json.dumps({"args": vars(args), "runs": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
