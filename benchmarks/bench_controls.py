"""Positive and negative toy controls of the policy searches (issue 12, "Checks").

On toy data whose right answer is known, this script runs ``random_search``
and ``autoaugment`` (and, with ``--methods``, ``fast_autoaugment``) and reports
what the found policy does with the operation that matters:

- **negative control** (``ramps``): class 0 is a rising ramp, class 1 a
  falling one, plus noise (the generator of tests/test_fast_autoaugment.py):
  time reverse maps one class onto the other, so a faithful search should give
  it a low probability. Candidate operations: time reverse, Gaussian noise,
  smooth time mask, frequency shift (sign flip, which also swaps the classes,
  is left out so that one operation alone destroys the label);
- **positive control** (``sinusoids``): :func:`augsleep.data.make_sinusoids`,
  four classes of noisy sines 2 Hz apart whose frequency jitters by
  +-0.5 Hz, so the labels are invariant to frequency shifts of up to 0.5 Hz
  (the paper's Section 4.2), with few training windows; frequency shift is the
  invariance that helps. Candidates: frequency shift, Gaussian noise, smooth
  time mask, time reverse (also label-preserving on sines, but it adds no
  variation a sine's phase does not have).

For each method and seed it prints the found policy's probability that a
training window gets the operation of interest at least once (averaged over
the sub-policies, which are drawn uniformly), next to the same probability
under the uniform prior of the search space (what a policy drawn at random
gives), the found policy's mean magnitude for that operation, and the
retrained model's test balanced accuracy.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_controls.py \
        [--budget 12] [--seeds 0 1] [--methods random_search autoaugment]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

# The tests' tiny trunk and the controls' helpers (tests/_toy.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _toy import RAMP_OPERATIONS, TinyTrunk, gets_operation, prior  # noqa: E402

from augsleep.data import make_ramps  # noqa: E402

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
    },
}


def make_control(name, seed, ramp_noise=0.3, n_valid=None):
    """Training (few windows), validation and test sets of a control.

    ``n_valid`` sets the validation windows (default 40 for the ramps, 80 for the
    sinusoids).
    """
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


def run(method, control, seed, args):
    from augsleep.methods import METHODS

    spec = CONTROLS[control]
    (X, y), (X_val, y_val), (X_test, y_test) = make_control(
        control, seed, args.ramp_noise, args.n_valid
    )
    params = dict(
        search_budget=args.budget,
        checkpoint_every=args.budget,
        n_subpolicies=args.n_subpolicies,
        operations=spec["operations"],
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=args.max_epochs,
        patience=args.patience,
        lr=1e-2,
        betas=(0.9, 0.999),
        random_state=seed,
        device="cpu",
    )
    if method == "fast_autoaugment":
        params.update(n_folds=2, n_top=2)
    clf = METHODS[method](**params).fit(X, y, X_val=X_val, y_val=y_val)
    choices = clf.policy_choices_
    op = spec["operation"]
    return {
        "p_found": gets_operation(choices, op),
        "p_prior": prior(op, len(spec["operations"]), 2),
        "magnitude": mean_magnitude(choices, op),
        "test": clf.score(X_test, y_test),
        "compute_s": clf.compute_time_["total_s"],
    }


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=12)
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
        "--ramp-noise",
        type=float,
        default=0.3,
        help="noise standard deviation of the ramps (their slope spans -1 to 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"budget {args.budget} trials, {args.n_subpolicies} x 2 policies, "
        f"tiny trunk, up to {args.max_epochs} epochs (patience {args.patience}), "
        f"ramp noise {args.ramp_noise}, validation windows {args.n_valid or 'default'}"
    )
    print(
        "| control | operation | method | seed | P(window gets it), found "
        "| uniform prior | mean magnitude | test balanced accuracy | fit (s) |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for control in args.controls:
        for method in args.methods:
            for seed in args.seeds:
                r = run(method, control, seed, args)
                print(
                    f"| {control} | {CONTROLS[control]['operation']} | {method} | "
                    f"{seed} | {r['p_found']:.2f} | {r['p_prior']:.2f} | "
                    f"{r['magnitude']:.2f} | {r['test']:.3f} | "
                    f"{r['compute_s']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
