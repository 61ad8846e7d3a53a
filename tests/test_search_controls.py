"""Negative toy control of the policy searches (issue 12, "Checks").

Rising vs falling noisy ramps: time reverse maps one class onto the other, so
a faithful search gives it a lower probability than a policy drawn at random
(benchmarks/bench_controls.py runs this control and the positive one on more
seeds; benchmarks/README.md has what each method found).
"""

import pytest
from _toy import RAMP_OPERATIONS, SFREQ, TinyTrunk, gets_operation, prior

from augsleep.data import make_ramps
from augsleep.methods import METHODS


@pytest.mark.parametrize("method", ["random_search", "autoaugment"])
def test_label_destroying_time_reverse_gets_a_low_probability(method):
    operations = RAMP_OPERATIONS
    # Noisy enough (noise 3 against a slope of 2) that flipped labels cost
    # validation accuracy: with little noise every policy scores 1.0.
    X, y = make_ramps(40, noise_std=3.0, random_state=0)
    X_val, y_val = make_ramps(40, noise_std=3.0, random_state=100)
    clf = METHODS[method](
        search_budget=10,
        checkpoint_every=10,
        n_subpolicies=2,
        operations=operations,
        trunk=TinyTrunk(),
        sfreq=SFREQ,
        max_epochs=15,
        patience=5,
        lr=1e-2,
        betas=(0.9, 0.999),
        random_state=0,
        device="cpu",
    ).fit(X, y, X_val=X_val, y_val=y_val)
    found = gets_operation(clf.policy_choices_, "time_reverse")
    assert found < prior("time_reverse", len(operations), 2)
    # The trials did propose it: the search chose against it.
    names = [c for c in clf.trials_ if c.endswith("_operation")]
    assert (clf.trials_[names] == "time_reverse").any(axis=None)
