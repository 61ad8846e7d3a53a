import math

import numpy as np
import pytest
import torch

from augsleep.augment import Policy, RandAugment, make_operations
from augsleep.augment.policy import POLICY_COLUMNS
from augsleep.channels import standard_positions

SFREQ = 100.0


@pytest.fixture
def ops():
    return make_operations(n_chans=1, sfreq=SFREQ)


@pytest.fixture
def X():
    return torch.randn(64, 1, 200, generator=torch.Generator().manual_seed(0))


def _changed(X, X_aug):
    return (X_aug - X).abs().flatten(1).amax(1) > 0


def test_make_operations_leaves_out_what_one_channel_cannot_support():
    names = [op.name for op in make_operations(n_chans=1, sfreq=SFREQ)]
    assert names == [
        "time_reverse",
        "smooth_time_mask",
        "gaussian_noise",
        "ft_surrogate",
        "frequency_shift",
        "bandstop_filter",
        "sign_flip",
    ]


def test_make_operations_builds_all_13_with_names_and_positions():
    ch_names = ["C3", "C4", "F3", "F4", "O1", "O2"]
    ops = make_operations(
        n_chans=6,
        sfreq=SFREQ,
        ch_names=ch_names,
        positions=standard_positions(ch_names),
    )
    assert len(ops) == 13


def test_make_operations_refuses_an_explicit_operation_the_data_cannot_support():
    with pytest.raises(ValueError, match="channels_shuffle.*single channel"):
        make_operations(["channels_shuffle"], n_chans=1, sfreq=SFREQ)
    with pytest.raises(ValueError, match="Unknown operations.*'warp'"):
        make_operations(["warp"], n_chans=1, sfreq=SFREQ)


def test_from_choices_round_trips_through_choices_and_to_frame(ops):
    choices = [
        [("frequency_shift", 0.5, 0.2), ("time_reverse", 0.3, 1.0)],
        [("gaussian_noise", 0.8, 0.6), ("sign_flip", 0.1, 1.0)],
    ]
    policy = Policy.from_choices(ops, choices)
    assert policy.n_subpolicies == 2 and policy.n_stages == 2
    got = policy.choices()
    for sub_got, sub_want in zip(got, choices, strict=True):
        for (n1, p1, m1), (n2, p2, m2) in zip(sub_got, sub_want, strict=True):
            assert n1 == n2
            assert p1 == pytest.approx(p2) and m1 == pytest.approx(m2)
    frame = policy.to_frame()
    assert list(frame.columns) == list(POLICY_COLUMNS)
    assert frame["transform"].tolist() == [
        "frequency_shift",
        "time_reverse",
        "gaussian_noise",
        "sign_flip",
    ]
    assert (frame["weight"] == 1.0).all()
    shift = frame.iloc[0]
    assert shift["physical_value"] == pytest.approx(0.2 * 5.0)  # 5 Hz at mu = 1
    assert shift["unit"] == "Hz"
    # Time reverse has no magnitude: its probability is all there is to it.
    assert math.isnan(frame.iloc[1]["magnitude"])
    assert len(policy.to_frame(all_operations=True)) == 2 * 2 * len(ops)


def test_zero_probabilities_give_the_identity(ops, X):
    policy = Policy(ops, probability=0.0, magnitude=1.0)
    assert torch.equal(policy(X, torch.Generator().manual_seed(1)), X)


def test_gates_follow_the_stage_probability(ops):
    X = torch.randn(4000, 1, 50, generator=torch.Generator().manual_seed(0))
    p = 0.3
    policy = Policy.from_choices(ops, [[("gaussian_noise", p, 1.0)]])
    frac = _changed(X, policy(X, torch.Generator().manual_seed(2))).float().mean()
    # Binomial(4000, 0.3): four standard deviations.
    assert abs(float(frac) - p) < 4 * math.sqrt(p * (1 - p) / len(X))


def test_each_window_gets_the_magnitude_of_its_own_subpolicy(ops):
    X = torch.randn(4000, 1, 50, generator=torch.Generator().manual_seed(0))
    # Sub-policy 0 is the identity (mu = 0), sub-policy 1 adds noise.
    policy = Policy.from_choices(
        ops, [[("gaussian_noise", 1.0, 0.0)], [("gaussian_noise", 1.0, 1.0)]]
    )
    frac = _changed(X, policy(X, torch.Generator().manual_seed(3))).float().mean()
    assert abs(float(frac) - 0.5) < 4 * math.sqrt(0.25 / len(X))


def test_operation_without_magnitude_is_applied_fully_when_gated(ops, X):
    policy = Policy.from_choices(ops, [[("time_reverse", 1.0, 0.0)]])
    out = policy(X, torch.Generator().manual_seed(4))
    torch.testing.assert_close(out, X.flip(-1))


def test_stages_compose_in_order(ops, X):
    policy = Policy.from_choices(
        ops, [[("time_reverse", 1.0, 0.0), ("sign_flip", 1.0, 0.0)]]
    )
    out = policy(X, torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, -X.flip(-1))


def test_same_generator_seed_gives_the_same_augmentation(ops, X):
    policy = Policy(ops, probability=0.7, magnitude=0.5)
    a = policy(X, torch.Generator().manual_seed(6))
    b = policy(X, torch.Generator().manual_seed(6))
    c = policy(X, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_magnitudes_receive_gradients_through_the_sampled_operations(ops, X):
    policy = Policy.from_choices(ops, [[("gaussian_noise", 1.0, 0.5)]])
    policy(X, torch.Generator().manual_seed(8)).pow(2).sum().backward()
    grad = policy._magnitudes.grad
    q = policy.names.index("gaussian_noise")
    assert grad[0, 0, q] != 0
    assert (grad[0, 0, torch.arange(len(ops)) != q] == 0).all()


def test_subpolicy_weights_select_the_subpolicies(ops, X):
    policy = Policy.from_choices(
        ops, [[("sign_flip", 1.0, 0.0)], [("gaussian_noise", 0.0, 0.0)]]
    )
    with torch.no_grad():
        policy._subpolicy_logits.copy_(torch.tensor([-math.inf, 0.0]))
    assert torch.equal(policy(X, torch.Generator().manual_seed(9)), X)


def test_state_dict_round_trip(ops, X):
    policy = Policy(ops, probability=0.4, magnitude=0.3)
    other = Policy(ops)
    other.load_state_dict(policy.state_dict())
    assert other.choices() == policy.choices()
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(policy(X, g1), other(X, g2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probability": 1.5}, "probability must lie in"),
        ({"magnitude": np.zeros((2, 2, 2))}, "magnitude must be a number or an array"),
        ({"n_subpolicies": 0}, "n_subpolicies must be an integer"),
        ({"mode": "soft"}, "mode must be one of"),
    ],
)
def test_policy_refuses_bad_parameters(ops, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Policy(ops, **kwargs)


def test_from_choices_names_the_bad_stage(ops):
    with pytest.raises(ValueError, match="Sub-policy 1, stage 0: unknown operation"):
        Policy.from_choices(ops, [[("sign_flip", 1, 0)], [("warp", 1, 0)]])
    with pytest.raises(ValueError, match="same number of stages"):
        Policy.from_choices(ops, [[("sign_flip", 1, 0)], []])


def test_randaugment_at_zero_magnitude_is_the_identity_on_magnitude_ops(X):
    ops = make_operations(
        ["gaussian_noise", "frequency_shift", "ft_surrogate"], n_chans=1, sfreq=SFREQ
    )
    aug = RandAugment(ops, n_ops=3, magnitude=0.0)
    assert torch.equal(aug(X, torch.Generator().manual_seed(0)), X)


def test_randaugment_draws_the_same_operations_for_the_whole_batch(X):
    ops = make_operations(["time_reverse", "sign_flip"], n_chans=1, sfreq=SFREQ)
    aug = RandAugment(ops, n_ops=1, magnitude=0.5)
    outcomes = set()
    for seed in range(20):
        out = aug(X, torch.Generator().manual_seed(seed))
        flipped = torch.allclose(out, -X)
        reversed_ = torch.allclose(out, X.flip(-1))
        assert flipped != reversed_  # one operation, on every window
        outcomes.add(flipped)
    assert outcomes == {True, False}  # both are drawn


def test_randaugment_is_reproducible_and_described(ops, X):
    aug = RandAugment(ops, n_ops=2, magnitude=0.4)
    a = aug(X, torch.Generator().manual_seed(1))
    b = aug(X, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    frame = aug.to_frame()
    assert len(frame) == len(ops)
    q = len(ops)
    assert frame["probability"].iloc[0] == pytest.approx(1 - (1 - 1 / q) ** 2)
    noise = frame.set_index("transform").loc["gaussian_noise"]
    assert noise["magnitude"] == 0.4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_ops": 0}, "n_ops must be"), ({"magnitude": 2.0}, "magnitude must lie")],
)
def test_randaugment_refuses_bad_parameters(ops, kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandAugment(ops, **kwargs)


def test_exported_policy_applies_the_same_stages_with_braindecode(ops, X):
    from braindecode.augmentation import FrequencyShift, TimeReverse

    from augsleep.augment import export_policy
    from augsleep.augment.export import TransformChoice, TransformSequence

    policy = Policy.from_choices(
        ops,
        [
            [("time_reverse", 1.0, 0.0), ("sign_flip", 1.0, 0.0)],
            [("frequency_shift", 0.3, 0.4), ("time_reverse", 0.2, 0.0)],
        ],
    )
    (exported,) = export_policy(policy, sfreq=SFREQ, random_state=0)
    assert isinstance(exported, TransformChoice)
    np.testing.assert_allclose(exported.weights, [0.5, 0.5])
    first, second = exported.transforms
    assert isinstance(first, TransformSequence)
    shift = second.transforms[0].transforms[0]
    assert isinstance(shift, FrequencyShift)
    assert shift.probability == pytest.approx(0.3)
    assert shift.max_delta_freq == pytest.approx(0.4 * 5.0)
    reverse = second.transforms[1].transforms[0]
    assert isinstance(reverse, TimeReverse)
    assert reverse.probability == pytest.approx(0.2)
    # The first sub-policy, alone, reverses and flips every window.
    torch.testing.assert_close(first(X), -X.flip(-1))


def test_exported_randaugment_draws_n_ops_operations(ops):
    from augsleep.augment import export_policy

    exported = export_policy(RandAugment(ops, n_ops=3, magnitude=0.2), sfreq=SFREQ)
    assert len(exported) == 3
    for choice in exported:
        np.testing.assert_allclose(choice.weights, np.full(len(ops), 1 / len(ops)))
    assert exported[0].transforms[0] is not exported[1].transforms[0]


# ------------------------------------------------------------ relaxed modes
RELAXED = ("relaxed", "gumbel")


def _relaxed(ops, mode, **kwargs):
    kwargs = {"probability": 0.5, "magnitude": 0.5, "temperature": 0.05, **kwargs}
    return Policy(ops, 3, 2, mode=mode, **kwargs)


@pytest.mark.parametrize("mode", RELAXED)
def test_relaxed_policy_is_differentiable_in_each_parameter(ops, X, mode):
    policy = _relaxed(ops, mode)
    policy(X, torch.Generator().manual_seed(10)).pow(2).sum().backward()
    assert policy._probabilities.grad.abs().sum() > 0
    assert policy._magnitudes.grad.abs().sum() > 0
    assert policy._op_logits.grad.abs().sum() > 0
    sub = policy._subpolicy_logits.grad
    if mode == "gumbel":
        assert sub is not None and sub.abs().sum() > 0
    else:  # uniform sub-policies: their weights play no part
        assert sub is None or (sub == 0).all()
    # Operations without a magnitude get no magnitude gradient.
    free = [q for q, op in enumerate(ops) if not op.has_magnitude]
    assert (policy._magnitudes.grad[:, :, free] == 0).all()


@pytest.mark.parametrize("mode", RELAXED)
def test_relaxed_policy_with_zero_probabilities_is_the_identity(ops, X, mode):
    policy = _relaxed(ops, mode, probability=0.0, magnitude=1.0)
    out = policy(X, torch.Generator().manual_seed(11))
    assert torch.equal(out, X)


@pytest.mark.parametrize("mode", RELAXED)
def test_relaxed_policy_is_reproducible_with_a_seeded_generator(ops, X, mode):
    def run(seed):
        policy = _relaxed(ops, mode)
        out = policy(X, torch.Generator().manual_seed(seed))
        out.pow(2).sum().backward()
        return out.detach(), [
            p.grad.clone() for p in policy.parameters() if p.grad is not None
        ]

    (a, ga), (b, gb), (c, _) = run(12), run(12), run(13)
    assert torch.equal(a, b)
    assert all(torch.equal(x, y) for x, y in zip(ga, gb, strict=True))
    assert not torch.equal(a, c)


@pytest.mark.parametrize("mode", RELAXED)
def test_relaxed_policy_samples_in_evaluation_mode(ops, X, mode):
    relaxed = _relaxed(ops, mode).eval()
    sample = _relaxed(ops, "sample")
    assert torch.equal(
        relaxed(X, torch.Generator().manual_seed(14)),
        sample(X, torch.Generator().manual_seed(14)),
    )


def test_relaxed_mode_gives_each_chunk_one_subpolicy(ops):
    X = torch.randn(40, 1, 100, generator=torch.Generator().manual_seed(0))
    # Sub-policy 0 is the identity, sub-policy 1 flips the sign (gates ~ 1).
    policy = Policy.from_choices(
        ops,
        [[("sign_flip", 0.0, 1.0)], [("sign_flip", 1.0, 1.0)]],
        mode="relaxed",
        n_chunks=4,
    )
    seen = set()
    for seed in range(8):
        out = policy(X, torch.Generator().manual_seed(seed))
        flipped = ((out * X).flatten(1).sum(1) < 0).reshape(4, 10)
        # All windows of a chunk share their sub-policy.
        assert (flipped.all(1) | (~flipped).all(1)).all()
        seen.update(flipped[:, 0].tolist())
    assert seen == {True, False}


def test_gumbel_mode_follows_the_subpolicy_logits(ops, X):
    policy = Policy.from_choices(
        ops,
        [[("sign_flip", 1.0, 1.0)], [("gaussian_noise", 0.0, 0.0)]],
        mode="gumbel",
        n_chunks=1,
    )
    with torch.no_grad():
        policy._subpolicy_logits.copy_(torch.tensor([-math.inf, 0.0]))
    assert torch.equal(policy(X, torch.Generator().manual_seed(15)), X)


def test_apply_relaxed_with_hard_draws_applies_the_chosen_operations(ops, X):
    policy = Policy.from_choices(
        ops,
        [
            [("gaussian_noise", 0.3, 0.4), ("time_reverse", 0.6, 1.0)],
            [("sign_flip", 0.5, 1.0), ("frequency_shift", 0.2, 0.7)],
        ],
        mode="gumbel",
    )
    n = len(X)
    weights = torch.zeros(n, 2)
    weights[:, 0] = 1.0
    gates = torch.zeros(1, 2, 2, len(ops))
    gates[0, 0, 0, policy.names.index("gaussian_noise")] = 1.0
    gates[0, 0, 1, policy.names.index("time_reverse")] = 1.0
    out = policy.apply_relaxed(X, weights, gates, torch.Generator().manual_seed(16))
    noise = policy.operations[policy.names.index("gaussian_noise")]
    want = noise(X, 0.4, torch.Generator().manual_seed(16)).flip(-1)
    torch.testing.assert_close(out, want)
    with pytest.raises(ValueError, match=r"subpolicy_weights must have shape"):
        policy.apply_relaxed(X, weights[:, :1], gates)
    with pytest.raises(ValueError, match=r"gates must have a shape broadcastable"):
        policy.apply_relaxed(X, weights, gates[..., :2])


def test_relaxed_mode_parameters_are_checked(ops):
    with pytest.raises(ValueError, match="n_chunks must be an integer"):
        Policy(ops, mode="relaxed", n_chunks=0)
    with pytest.raises(ValueError, match="gate_temperature"):
        Policy(ops, mode="relaxed", gate_temperature=0.0)
