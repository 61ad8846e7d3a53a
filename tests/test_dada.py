"""DADA: operation tuples, one RELAX draw per batch, top sub-policies exported."""

import numpy as np
import pytest
import torch
from _toy import SFREQ, TINY, make_splits

from augsleep import DADAClassifier
from augsleep.augment import make_operations
from augsleep.methods.dada import _DADASearchPolicy, subpolicy_tuples

TINY = {**TINY, "max_epochs": 2}
OPS = ("time_reverse", "gaussian_noise", "frequency_shift")
SMALL = dict(search_budget=3, checkpoint_every=2, n_subpolicies=4, operations=OPS)


def _search_policy():
    ops = make_operations(list(OPS), n_chans=1, sfreq=SFREQ)
    torch.manual_seed(0)
    return _DADASearchPolicy(ops, 2, 0.5, None)


def test_every_pair_is_a_subpolicy():
    policy = _search_policy()
    assert policy.policy.n_subpolicies == 9
    pairs = [tuple(op for op, _, _ in sub) for sub in policy.policy.choices()]
    assert len(set(pairs)) == 9 and ("time_reverse", "time_reverse") in pairs
    names = list(OPS)
    for (a, b), (qa, qb) in zip(pairs, policy.stage_ops.tolist(), strict=True):
        assert (names[qa], names[qb]) == (a, b)
    # RELAX's control variate sees every gate and every sub-policy: K N + K.
    assert policy.control_variate.n_features == 9 * 2 + 9


def test_combinations_are_the_references_search_space():
    # VDIGPKU/DADA (search_relax/primitives.py) searches every set of N distinct
    # operations, in the candidates' order: C(Q, N) sub-policies (105 of 15).
    names = [f"op{i}" for i in range(15)]
    pairs = subpolicy_tuples(names, 2, "combinations")
    assert len(pairs) == 105 and ("op2", "op4") in pairs
    assert all(names.index(a) < names.index(b) for a, b in pairs)
    assert subpolicy_tuples(list(OPS), 2, "combinations") == [
        ("time_reverse", "gaussian_noise"),
        ("time_reverse", "frequency_shift"),
        ("gaussian_noise", "frequency_shift"),
    ]
    assert len(subpolicy_tuples(list(OPS), 2)) == 9  # the default: Q ** N
    ops = make_operations(list(OPS), n_chans=1, sfreq=SFREQ)
    policy = _DADASearchPolicy(ops, 2, 0.5, None, "combinations")
    assert policy.policy.n_subpolicies == 3
    assert policy.stage_ops.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert policy.control_variate.n_features == 3 * 2 + 3
    with pytest.raises(ValueError, match="at least n_stages=3 distinct"):
        subpolicy_tuples(["a", "b"], 3, "combinations")
    with pytest.raises(ValueError, match="space must be one of"):
        subpolicy_tuples(["a", "b"], 2, "pairs")


def test_combinations_search_runs(data):
    X, y, X_val, y_val = data
    clf = DADAClassifier(
        **TINY,
        **{**SMALL, "search_budget": 2, "n_subpolicies": 2},
        subpolicy_space="combinations",
    ).fit(X, y, X_val=X_val, y_val=y_val)
    ph = clf.policy_history_
    assert len(ph) == 2 * 3
    assert (ph.stage0_operation != ph.stage1_operation).all()
    with pytest.raises(Exception, match="subpolicy_space"):
        DADAClassifier(**TINY, **SMALL, subpolicy_space="pairs").fit(
            X, y, X_val=X_val, y_val=y_val
        )


def test_one_subpolicy_and_hard_gates_per_batch():
    policy = _search_policy()
    with torch.no_grad():
        policy.policy._probabilities.fill_(1.0)  # every gate on
        policy.policy._subpolicy_logits.fill_(-1e9)
        policy.policy._subpolicy_logits[0] = 0.0  # time reverse twice
        policy.policy._subpolicy_logits[1] = -1e9
    gen = torch.Generator().manual_seed(0)
    gates, sub = policy.draw(gen)
    assert int(sub.b) == 0 and gates.b.shape == (9, 2)
    assert set(gates.b.unique().tolist()) == {1.0}
    X = torch.randn(5, 1, 50)
    torch.testing.assert_close(policy.apply(X, gates, sub, gen), X)  # reversed twice
    # Magnitudes get their gradient through the operations, of the drawn
    # sub-policy only.
    with torch.no_grad():
        policy.policy._subpolicy_logits.fill_(-1e9)
        policy.policy._subpolicy_logits[4] = 0.0  # (gaussian_noise, gaussian_noise)
    gates, sub = policy.draw(gen)
    assert int(sub.b) == 4
    policy.apply(X, gates, sub, gen).square().sum().backward()
    grad = policy.policy._magnitudes.grad
    assert grad[4].abs().sum() > 0
    assert grad[torch.arange(9) != 4].abs().sum() == 0


def test_export_keeps_the_top_subpolicies():
    clf = DADAClassifier(n_subpolicies=3)
    policy = _search_policy()
    with torch.no_grad():
        policy.policy._subpolicy_logits.copy_(torch.arange(9.0) % 4)
    choices = clf._export_choices(policy)
    every = policy.policy.choices()
    # Weights 3, 3, 2 (ties: the earlier sub-policy first).
    assert choices == [every[3], every[7], every[2]]


@pytest.fixture(scope="module")
def data():
    return make_splits()[:4]


def test_dada_search_relax_and_export(data):
    X, y, X_val, y_val = data
    clf = DADAClassifier(**TINY, **SMALL).fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.compute_time_["pretrain_s"] == 0.0  # no warm start
    hist = clf.search_history_
    assert hist.n_trials.tolist() == [2, 3] and (hist.pretrain_s == 0).all()
    # Exported: the 4 sub-policies of largest weight at the best checkpoint's
    # epoch, retrained with uniform weights.
    assert len(clf.policy_choices_) == 4
    torch.testing.assert_close(clf.policy_.subpolicy_weights, torch.full((4,), 0.25))
    ph = clf.policy_history_
    assert len(ph) == 3 * 9
    best_epoch = int(hist.best_trial[int(np.argmax(hist.valid_balanced_accuracy))])
    last = ph[ph.epoch == best_epoch].sort_values(
        "subpolicy_weight", ascending=False, kind="stable"
    )
    expected = [
        [row.stage0_operation, row.stage1_operation]
        for row in last.iloc[:4].itertuples()
    ]
    assert [[op for op, _, _ in sub] for sub in clf.policy_choices_] == expected
    # The RELAX gradients moved the logits and probabilities.
    assert not np.allclose(ph[ph.epoch == 2].subpolicy_weight, 1 / 9)
    assert not np.allclose(ph[ph.epoch == 2].stage0_probability, 0.5)


def test_seeded_dada_is_reproducible(data):
    X, y, X_val, y_val = data
    params = {**TINY, **SMALL, "search_budget": 2}
    a = DADAClassifier(**params).fit(X, y, X_val=X_val, y_val=y_val)
    b = DADAClassifier(**params).fit(X, y, X_val=X_val, y_val=y_val)
    assert a.policy_history_.equals(b.policy_history_)
    assert a.policy_choices_ == b.policy_choices_
    np.testing.assert_array_equal(a.predict_proba(X_val), b.predict_proba(X_val))


# ----------------------------------------------------------- negative control
@pytest.mark.parametrize("seed", [0, 1])
def test_label_destroying_operation_loses_probability(seed):
    # The label is the direction of time (noisy ramps): time reverse maps one
    # class onto the other. From uniform sub-policy weights and gates of 1/2,
    # a window is reversed at least once with probability 7/16; every search
    # epoch of DADA's RELAX gradients lowers it, and the sub-policy weighted
    # most applies no time reverse. (Seeds 0-3 all do, over 6 epochs: from
    # 0.437 to 0.41-0.43.)
    from augsleep.data import make_ramps

    X, y = make_ramps(64, noise_std=3.0, random_state=0)
    X_val, y_val = make_ramps(32, noise_std=3.0, random_state=1)
    clf = DADAClassifier(
        **{**TINY, "random_state": seed, "max_epochs": 3},
        search_budget=6,
        checkpoint_every=6,
        n_subpolicies=2,
        operations=("time_reverse", "gaussian_noise"),
    ).fit(X, y, X_val=X_val, y_val=y_val)
    ph = clf.policy_history_

    def reversed_at_least_once(epoch):
        rows = ph[ph.epoch == epoch]
        keep = np.ones(len(rows))
        for s in (0, 1):
            is_reverse = (rows[f"stage{s}_operation"] == "time_reverse").to_numpy()
            keep *= np.where(is_reverse, 1 - rows[f"stage{s}_probability"], 1.0)
        return float((rows["subpolicy_weight"] * (1 - keep)).sum())

    start = reversed_at_least_once(ph.epoch.min())
    assert abs(start - 7 / 16) < 0.01  # after one epoch, still near uniform
    assert reversed_at_least_once(ph.epoch.max()) < start
    top = ph[ph.epoch == ph.epoch.max()].sort_values(
        "subpolicy_weight", ascending=False, kind="stable"
    )
    assert "time_reverse" not in {
        top.iloc[0].stage0_operation,
        top.iloc[0].stage1_operation,
    }


def test_control_variate_cancels_in_the_hypergradient():
    # The two RELAX estimates of the finite difference at theta +- eps v share
    # their draws and their control variate, so c's terms cancel: DADA's
    # hypergradient of the logits and probabilities is the score-function
    # estimate, whatever c (as in the reference, which also evaluates both
    # with one sample and one QFunc). A single estimate does depend on c.
    from types import SimpleNamespace

    from torch.nn import functional as F

    from augsleep.training.bilevel import (
        SameDraws,
        call_with,
        darts_hypergradient,
        trainable_parameters,
    )

    ops = make_operations(list(OPS), n_chans=1, sfreq=SFREQ)
    data = torch.Generator().manual_seed(0)
    X = torch.randn(8, 1, 50, generator=data)
    X_v = torch.randn(8, 1, 50, generator=data)
    y = y_v = torch.arange(8) % 2
    torch.manual_seed(0)
    trunk = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(50, 2))
    results, single = [], []
    for cv_seed in (1, 2):
        torch.manual_seed(0)
        policy = _DADASearchPolicy(ops, 2, 0.5, None)
        init = torch.Generator().manual_seed(cv_seed)
        with torch.no_grad():
            for p in policy.control_variate.parameters():
                p.copy_(torch.randn(p.shape, generator=init))
        gen = torch.Generator().manual_seed(3)  # the same draws for both
        search = SimpleNamespace(
            policy=policy, trunk=trunk, generator=gen, _nll=F.cross_entropy
        )
        draws = SameDraws(gen)
        gradient = DADAClassifier()._train_gradient(search, X, y, draws)

        def train_loss(params, policy=policy, gen=gen, draws=draws):
            draws.restore()
            gates, sub = policy.draw(gen)
            X_aug = policy.apply(X, gates, sub, gen)
            return F.cross_entropy(call_with(trunk, params, X_aug), y)

        def valid_loss(params):
            return F.cross_entropy(call_with(trunk, params, X_v), y_v)

        result = darts_hypergradient(
            trunk,
            policy.parameters_learned(),
            train_loss,
            valid_loss,
            1e-2,
            train_gradient=gradient,
        )
        results.append(result.grads[:2])
        single.append(gradient(trainable_parameters(trunk))[:2])
    for a, b in zip(*results, strict=True):
        assert a.abs().max() > 0
        scale = float(a.abs().max())
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * scale)
    # The estimates themselves differ with the control variate.
    for a, b in zip(*single, strict=True):
        assert (a - b).abs().max() > 0.1 * a.abs().max()
