"""Positive and negative toy controls of the policy searches (issues 12 and 13).

On toy data whose right answer is known, this script runs ``random_search``
and ``autoaugment`` (and, with ``--methods``, ``fast_autoaugment``, the
gradient searches ``faster_autoaugment``, ``dada``, ``adda``, ``cadda``, and
``none`` for the baseline) and reports what the found policy does with the
operation that matters:

- **negative control** (``ramps``): class 0 is a rising ramp, class 1 a
  falling one, plus noise (the generator of tests/test_fast_autoaugment.py):
  time reverse maps one class onto the other, so a faithful search should give
  it a low probability. Candidate operations: time reverse, Gaussian noise,
  smooth time mask, frequency shift (sign flip, which also swaps the classes,
  is left out so that one operation alone destroys the label);
- **sinusoids** (the first positive control tried):
  :func:`augsleep.data.make_sinusoids`, four classes of noisy sines 2 Hz apart
  whose frequency jitters by +-0.5 Hz, so the labels are invariant to
  frequency shifts of up to 0.5 Hz (the paper's Section 4.2), with 40 training
  windows. Candidates: frequency shift, Gaussian noise, smooth time mask, time
  reverse. ``--effect`` shows that frequency shift helps only at magnitudes up
  to 0.1 (0.5 Hz of its 5 Hz range) and that time reverse, label-preserving on
  sines, helps as much (benchmarks/README.md);
- **positive control** (``bumps``): :func:`augsleep.data.make_bumps`, the
  class is the position of a Gaussian bump (a quarter or three quarters of
  the window), its sign a nuisance: the 20 training windows are all positive
  (``--train-flip 0.5``: of either sign), the validation and test windows
  negative with probability 1/2, so sign flip is the invariance that helps, by
  a large measured margin (``--effect``). Candidates: time reverse (maps one
  class onto the other: harmful), Gaussian noise, smooth time mask (can hide
  the bump), sign flip.

For each method and seed it prints the found policy's probability that a
training window gets the operation of interest at least once (averaged over
the sub-policies, which are drawn uniformly), next to the same probability
under the uniform prior of the search space (what a policy drawn at random
gives); for the gradient searches the same probability under their relaxed
policy at the end of the search; the found policy's mean magnitude for that
operation; the same two probabilities for an "other" operation (time reverse:
harmful on the bumps, helpful on the sinusoids); and the retrained model's test
balanced accuracy. A summary per method follows (means, and in how many seeds
each probability is above the prior), then, for Faster AutoAugment, whose
relaxed policy starts at random rather than at the prior, its start and end.

``--effect`` measures, before any search, what each candidate does: the
protocol of a search's final model (a search of one trial whose policy is
fixed, retrained from scratch with the retraining seeds and scored), for a
stage of each operation at probability 1/2 and magnitude ``--magnitude``, the
operation of interest followed by each other one, and probability 0 (no
augmentation, the same seeds).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_controls.py \
        [--budget 12] [--seeds 0 1] [--methods random_search autoaugment]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_controls.py --effect \
        --controls bumps --seeds 0 1 2

``--budget`` is the number of trials of the trial-by-trial searches;
``--epochs`` the search epochs of the gradient ones.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

# The tests' tiny trunk and the controls' helpers (tests/_toy.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _toy import (  # noqa: E402
    BUMP_OPERATIONS,
    RAMP_OPERATIONS,
    control_params,
    gets_operation,
    make_bumps_control,
    prior,
    relaxed_gets_operation,
)

from augsleep.data import make_ramps  # noqa: E402
from augsleep.methods._search import PolicySearchClassifier, Proposer  # noqa: E402
from augsleep.transforms import TRANSFORMS  # noqa: E402

warnings.filterwarnings("ignore")

SFREQ = 100.0
CONTROLS = {
    "ramps": {
        "operation": "time_reverse",
        "operations": RAMP_OPERATIONS,
    },
    "sinusoids": {
        "operation": "frequency_shift",
        "operations": (
            "frequency_shift",
            "gaussian_noise",
            "smooth_time_mask",
            "time_reverse",
        ),
        # Reported next to it: label-preserving on sines, and it helps
        # (``--effect``).
        "other": "time_reverse",
    },
    "bumps": {
        "operation": "sign_flip",
        "operations": BUMP_OPERATIONS,
        # Reported next to it: it destroys the label once the model can learn.
        "other": "time_reverse",
    },
}
#: Methods that search epoch by epoch (``--epochs``), not trial by trial.
GRADIENT_METHODS = ("faster_autoaugment", "dada", "adda", "cadda")


def make_control(
    name, seed, ramp_noise=0.3, n_valid=None, n_train=None, train_flip=0.0
):
    """Training (few windows), validation and test sets of a control.

    ``n_valid`` sets the validation windows (default 40 for the ramps, 80 for the
    sinusoids and the bumps), ``n_train`` the training windows of the bumps
    (default 20) and ``train_flip`` the probability that a training bump is
    negative (default 0: the nuisance's range is half shown in training).
    """
    if name == "bumps":
        # Training windows all positive, validation and test of either sign.
        return make_bumps_control(
            seed, n_train or 20, n_valid or 80, train_flip=train_flip
        )
    if name == "ramps":
        return tuple(
            make_ramps(n, noise_std=ramp_noise, random_state=seed + offset)
            for n, offset in ((40, 0), (n_valid or 40, 100), (200, 200))
        )
    from augsleep.data import make_sinusoids

    def draw(n, s):
        X, y = make_sinusoids(n, duration=2.0, sfreq=SFREQ, random_state=s)
        return X.astype(np.float32), y

    return draw(40, seed), draw(n_valid or 80, seed + 100), draw(400, seed + 200)


def mean_magnitude(choices, operation):
    values = [m for sub in choices for op, _, m in sub if op == operation]
    return float(np.mean(values)) if values else float("nan")


class _FixedProposer(Proposer):
    """Propose the same policy at every trial."""

    def __init__(self, choices):
        self.choices = choices

    def ask(self, trial):
        return None, self.choices


class FixedPolicyClassifier(PolicySearchClassifier):
    """A search of one trial whose policy is given: the searches' protocol.

    Set ``fixed_choices`` (a ``policy_choices_`` list) before ``fit``; with
    ``search_budget=1`` the model kept is that policy retrained from scratch
    with the retraining seeds, as a search's final model.
    """

    fixed_choices = None

    def _make_proposer(self, seeds, operation_names):
        return _FixedProposer(self.fixed_choices)


def shared_params(args, seed):
    """Parameters every method of the controls shares (tiny trunk, 1 thread)."""
    return control_params(seed, args.max_epochs, args.patience)


def found_probability(clf, method, operation):
    """:func:`gets_operation` of the found policy (averaged over CADDA's classes)."""
    if method == "cadda":
        return float(
            np.mean([gets_operation(c, operation) for c in clf.policy_choices_])
        )
    return gets_operation(clf.policy_choices_, operation)


def relaxed_probability(clf, method, operation):
    """P(window gets ``operation`` at least once) under the final relaxed policy.

    The gradient searches' own policy at the end of the search, before the
    export keeps each stage's most weighted operation: per stage the chance
    that a window gets the operation is its weight times its probability
    (every stage of DADA's sub-policies has one operation, weight 1), and the
    sub-policies are drawn with their weights (uniform but for DADA's). From
    ADDA's, CADDA's and DADA's uniform start this equals :func:`prior`; Faster
    AutoAugment starts from values drawn uniformly in [0, 1] (the reference's
    initialisation), see :func:`faster_start_probability`. NaN for the other
    methods.
    """
    if method == "dada":
        ph = clf.policy_history_
        rows = ph[ph.epoch == ph.epoch.max()]
        keep = np.ones(len(rows))
        for s in range(clf.n_stages):
            hit = (rows[f"stage{s}_operation"] == operation).to_numpy()
            keep *= np.where(hit, 1 - rows[f"stage{s}_probability"], 1.0)
        return float((rows["subpolicy_weight"].to_numpy() * (1 - keep)).sum())
    if method == "faster_autoaugment":
        frame = clf.search_policy_
        frame = frame[frame.n_epochs == frame.n_epochs.max()]
    elif method in ("adda", "cadda"):
        frame = clf.policy_history_
        frame = frame[frame.epoch == frame.epoch.max()]
    else:
        return float("nan")
    return relaxed_gets_operation(frame, operation)


def faster_start_probability(clf, method, operation):
    """:func:`relaxed_probability` of Faster AutoAugment's initial policy.

    NaN for the other methods (the bilevel searches start uniform: the prior).
    """
    if method != "faster_autoaugment":
        return float("nan")
    frame = clf.search_policy_
    return relaxed_gets_operation(frame[frame.n_epochs == 0], operation)


def run(method, control, seed, args):
    from augsleep.methods import METHODS

    spec = CONTROLS[control]
    (X, y), (X_val, y_val), (X_test, y_test) = make_control(
        control, seed, args.ramp_noise, args.n_valid, args.n_train, args.train_flip
    )
    if method == "none":  # the baseline: no augmentation, the same data
        clf = METHODS["none"](**shared_params(args, seed))
        clf.fit(X, y, X_val=X_val, y_val=y_val)
        nan = float("nan")
        return {
            "p_found": nan,
            "p_relaxed": nan,
            "p_start": nan,
            "other_found": nan,
            "other_relaxed": nan,
            "other_start": nan,
            "p_prior": nan,
            "magnitude": nan,
            "test": clf.score(X_test, y_test),
            "compute_s": clf.compute_time_["total_s"],
        }
    budget = args.epochs if method in GRADIENT_METHODS else args.budget
    params = dict(
        search_budget=budget,
        checkpoint_every=budget,
        n_subpolicies=args.n_subpolicies,
        operations=spec["operations"],
        **shared_params(args, seed),
    )
    if method == "fast_autoaugment":
        params.update(n_folds=2, n_top=2)
    if method in ("adda", "cadda"):
        # As tests/test_adda.py's control: one warm-start epoch, a faster policy.
        params.update(pretrain_epochs=1, policy_lr=5e-3)
    clf = METHODS[method](**params).fit(X, y, X_val=X_val, y_val=y_val)
    op = spec["operation"]
    choices = clf.policy_choices_
    if method == "cadda":  # one policy per class
        choices = [sub for policy in choices for sub in policy]
    other = spec.get("other")
    return {
        "p_found": found_probability(clf, method, op),
        "p_relaxed": relaxed_probability(clf, method, op),
        "p_start": faster_start_probability(clf, method, op),
        "other_found": (
            np.nan if other is None else found_probability(clf, method, other)
        ),
        "other_relaxed": (
            np.nan if other is None else relaxed_probability(clf, method, other)
        ),
        "other_start": (
            np.nan if other is None else faster_start_probability(clf, method, other)
        ),
        "p_prior": prior(op, len(spec["operations"]), 2),
        # Time reverse and sign flip have none: their drawn magnitude is unused.
        "magnitude": (
            mean_magnitude(choices, op) if TRANSFORMS[op].has_magnitude else np.nan
        ),
        "test": clf.score(X_test, y_test),
        "compute_s": clf.compute_time_["total_s"],
    }


def effect_arms(control, magnitude=0.5):
    """Fixed policies of ``--effect``: name and ``policy_choices_`` of each.

    No augmentation (probability 0), one stage of each candidate at probability
    1/2 and magnitude ``magnitude``, then the operation of interest followed by
    each other candidate (what a harmful companion does once the model can
    learn).
    """
    spec = CONTROLS[control]
    ops, target = spec["operations"], spec["operation"]
    arms = [("none", [[(target, 0.0, magnitude)]])]
    arms += [(op, [[(op, 0.5, magnitude)]]) for op in ops]
    arms += [
        (f"{target} + {op}", [[(target, 0.5, magnitude), (op, 0.5, magnitude)]])
        for op in ops
        if op != target
    ]
    return arms


def effect(control, seed, args):
    """Test and validation balanced accuracy of :func:`effect_arms`' policies."""
    spec = CONTROLS[control]
    (X, y), (X_val, y_val), (X_test, y_test) = make_control(
        control, seed, args.ramp_noise, args.n_valid, args.n_train, args.train_flip
    )
    scores = {}
    for name, choices in effect_arms(control, args.magnitude):
        clf = FixedPolicyClassifier(
            search_budget=1,
            checkpoint_every=1,
            n_subpolicies=1,
            n_stages=len(choices[0]),
            operations=spec["operations"],
            **shared_params(args, seed),
        )
        clf.fixed_choices = choices
        clf.fit(X, y, X_val=X_val, y_val=y_val)
        scores[name] = (
            clf.score(X_test, y_test),
            clf.search_history_.valid_balanced_accuracy.iloc[-1],
        )
    return scores


def main_effect(args):
    """Print, per control, the test (validation) scores of the fixed policies."""
    for control in args.controls:
        arms = [name for name, _ in effect_arms(control)]
        print(f"\n{control}: stages at probability 0.5, magnitude {args.magnitude}")
        print("| seed | " + " | ".join(arms) + " |\n|" + " ---: |" * (len(arms) + 1))
        rows = []
        for seed in args.seeds:
            scores = effect(control, seed, args)
            rows.append([scores[name] for name in arms])
            print(
                f"| {seed} | "
                + " | ".join(f"{t:.3f} ({v:.3f})" for t, v in rows[-1])
                + " |",
                flush=True,
            )
        rows = np.array(rows)
        print(
            "| mean | "
            + " | ".join(f"{t:.3f} ({v:.3f})" for t, v in rows.mean(axis=0))
            + " |"
        )
        print(
            "| min | "
            + " | ".join(f"{t:.3f} ({v:.3f})" for t, v in rows.min(axis=0))
            + " |"
        )
        gain = rows[:, :, 0].mean(axis=0) - rows[:, 0, 0].mean()
        print(
            "mean test gain over none: "
            + ", ".join(
                f"{name} {g:+.3f}" for name, g in zip(arms[1:], gain[1:], strict=True)
            )
        )


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=int, default=12, help="trials of the trial-by-trial searches"
    )
    parser.add_argument(
        "--epochs", type=int, default=6, help="search epochs of the gradient searches"
    )
    parser.add_argument("--n-subpolicies", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--methods", nargs="+", default=["random_search", "autoaugment"]
    )
    parser.add_argument("--controls", nargs="+", default=list(CONTROLS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--n-valid", type=int, default=None, help="validation windows per control"
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="training windows of the bumps"
    )
    parser.add_argument(
        "--train-flip",
        type=float,
        default=0.0,
        help="probability that a training bump is negative (bumps)",
    )
    parser.add_argument(
        "--effect",
        action="store_true",
        help="measure each candidate operation at a fixed policy, no search",
    )
    parser.add_argument(
        "--magnitude",
        type=float,
        default=0.5,
        help="magnitude of the fixed policies' stages (--effect)",
    )
    parser.add_argument(
        "--ramp-noise",
        type=float,
        default=0.3,
        help="noise standard deviation of the ramps (their slope spans -1 to 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.effect:
        print(
            f"tiny trunk, up to {args.max_epochs} epochs (patience {args.patience}), "
            f"training windows {args.n_train or 'default'} "
            f"(bumps: negative with probability {args.train_flip}), "
            f"validation windows {args.n_valid or 'default'}; test balanced accuracy "
            "(validation balanced accuracy) of the retrained model"
        )
        main_effect(args)
        return
    print(
        f"budget {args.budget} trials (gradient searches: {args.epochs} epochs), "
        f"{args.n_subpolicies} x 2 policies, "
        f"tiny trunk, up to {args.max_epochs} epochs (patience {args.patience}), "
        f"ramp noise {args.ramp_noise}, validation windows {args.n_valid or 'default'}"
    )
    print(
        "| control | operation | method | seed | P(window gets it), found "
        "| uniform prior | relaxed policy at the end | mean magnitude "
        "| other operation (time reverse), found | relaxed "
        "| test balanced accuracy | fit (s) |"
    )
    print("| --- | --- | --- | ---: |" + " ---: |" * 8)
    summary, starts = [], []
    for control in args.controls:
        for method in args.methods:
            results = []
            for seed in args.seeds:
                r = run(method, control, seed, args)
                results.append(r)
                print(
                    f"| {control} | {CONTROLS[control]['operation']} | {method} | "
                    f"{seed} | {r['p_found']:.2f} | {r['p_prior']:.2f} | "
                    f"{r['p_relaxed']:.2f} | "
                    f"{r['magnitude']:.2f} | {r['other_found']:.2f} | "
                    f"{r['other_relaxed']:.2f} | {r['test']:.3f} | "
                    f"{r['compute_s']:.0f} |",
                    flush=True,
                )
            found = np.array([r["p_found"] for r in results])
            relaxed = np.array([r["p_relaxed"] for r in results])
            o_found = np.array([r["other_found"] for r in results])
            o_relaxed = np.array([r["other_relaxed"] for r in results])
            prior_ = results[0]["p_prior"]
            if method == "faster_autoaugment":
                start = np.array([r["p_start"] for r in results])
                o_start = np.array([r["other_start"] for r in results])
                starts.append(
                    f"| {control} | {len(results)} | {np.mean(start):.3f} | "
                    f"{np.mean(relaxed):.3f} | {(relaxed > start).sum()} | "
                    f"{np.mean(o_start):.3f} | {np.mean(o_relaxed):.3f} | "
                    f"{(o_relaxed < o_start).sum()} |"
                )
            summary.append(
                f"| {control} | {method} | {len(results)} | "
                f"{np.mean(found):.2f} | {(found > prior_).sum()} | "
                f"{np.mean(relaxed):.2f} | {(relaxed > prior_).sum()} | "
                f"{prior_:.2f} | {np.mean(o_found):.2f} | {(o_found > prior_).sum()} | "
                f"{np.mean(o_relaxed):.2f} | {(found > o_found).sum()} | "
                f"{np.mean([r['test'] for r in results]):.3f} |"
            )
    print(
        "\n| control | method | seeds | found, mean | found > prior (seeds) "
        "| relaxed, mean | relaxed > prior (seeds) | uniform prior "
        "| other, found, mean | other found > prior (seeds) | other, relaxed, mean "
        "| found > other found (seeds) | test balanced accuracy, mean |"
    )
    print("| --- | --- |" + " ---: |" * 11)
    print("\n".join(summary))
    if starts:
        # Faster AutoAugment starts from a random policy, not from the prior.
        print(
            "\nFaster AutoAugment's relaxed policy, start and end of the search:\n"
            "| control | seeds | operation, start | end | rose (seeds) "
            "| other, start | end | fell (seeds) |\n| --- |" + " ---: |" * 7
        )
        print("\n".join(starts))


if __name__ == "__main__":
    main()
