"""The built-in main job: AugNet learns the frequency-shift invariance of sinusoids.

Reproduces the paper's Section 4.2 on the CPU in about two minutes: one augmentation
layer of frequency shift, FT surrogate and Gaussian noise in front of the small
sinusoid CNN, trained end to end; the same trunk trained without augmentation is the
baseline. The data's classes are 2 Hz apart and each example's frequency is jittered
by up to 0.5 Hz, so the right answer is "frequency shift, up to 0.5 Hz".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from augsleep.augment import SINUSOID_TRANSFORMS, AugmentationModule, regularization
from augsleep.data.sinusoids import make_sinusoids
from augsleep.invariance import invariance_score
from augsleep.models import AugNet, SinusoidCNN
from augsleep.training import (
    RegularizedNLLLoss,
    fit_loop,
    make_generator,
    make_optimizer,
    predict_log_proba,
)
from augsleep.transforms import FrequencyShift

#: Physical ranges (mu = 1) of the sinusoid experiment, from the official AugNet
#: code (the paper's Table A.4 ranges are those of the sleep experiment).
SINUSOID_RANGES = {
    "frequency_shift": {"max_value": 2.0},  # Hz
    "ft_surrogate": {"max_value": 0.2 * np.pi},  # rad
    "gaussian_noise": {"max_value": 0.1},
}


def _accuracy(model, X, y, n_copies, generator) -> float:
    log_proba = predict_log_proba(model, X, n_copies=n_copies, generator=generator)
    return float((log_proba.argmax(1) == y).float().mean())


def _regularization(model: AugNet, kind: str) -> torch.Tensor:
    return regularization(model.augmentation, kind)


def _clamp_then(callback: Callable[[AugNet], None], model: AugNet) -> None:
    model.clamp_magnitudes_()
    callback(model)


def train_sinusoid_model(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    augment: bool = True,
    regularizer: str = "augnet",
    lam: float = 0.2,
    n_epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    temperature: float = 0.01,
    initial_magnitude: float = 0.0,
    random_state: int = 0,
    progress: tqdm | None = None,
    trunk: Callable[[], nn.Module] | None = None,
    layers: Sequence[Sequence[str]] | None = None,
    transform_params: dict[str, dict] | None = None,
    training_augmentation: Callable[[], nn.Module] | None = None,
    on_step: Callable[[AugNet], None] | None = None,
) -> tuple[AugNet, list[dict]]:
    """Train AugNet (or the trunk alone) on sinusoids with the paper's settings.

    Trains through :func:`augsleep.training.fit_loop` for ``n_epochs`` epochs
    (no validation set, no early stopping). The settings are those of the
    paper's sinusoid experiment and its code: Adam (betas 0.9, 0.999, torch's
    for-each implementation) with weight decay on **every** parameter, the
    augmentation's included (the estimators exclude the augmentation, see
    :func:`augsleep.training.make_optimizer`).

    Parameters
    ----------
    X_train : Tensor, shape (n_windows, 1, n_times)
        Training signals (sampled at 100 Hz).
    y_train : Tensor, shape (n_windows,)
        Class indices.
    augment : bool
        ``False`` trains the trunk alone (the baseline).
    regularizer : {"augnet", "augerino", "none"}
        Invariance-promoting regulariser.
    lam : float
        Regularisation weight.
    n_epochs, batch_size, lr, weight_decay : int, int, float, float
        Optimisation settings (Adam; ``weight_decay`` on trunk and augmentation).
    temperature : float
        Softmax temperature of the augmentation layer.
    initial_magnitude : float
        Initial magnitude of every transform.
    random_state : int
        Seed of the trunk's initialisation, the shuffling and the augmentations.
        Torch's global generator is seeded inside ``torch.random.fork_rng``, so
        the caller's is left as it was.
    progress : tqdm | None
        Progress bar to advance by one per epoch.
    trunk : callable | None
        Builds the trunk, called with no argument after torch's generator is
        seeded (so its initialisation follows ``random_state``), e.g.
        ``partial(MLP, 1000, n_neurons=2)``; it maps (n_windows, 1, n_times)
        to 4 logits. ``None`` is :class:`~augsleep.models.SinusoidCNN`.
    layers : sequence of sequence of str | None
        Transform names of each augmentation layer (with ``augment``); ``None``
        is one layer of :data:`~augsleep.augment.SINUSOID_TRANSFORMS`.
    transform_params : dict | None
        Constructor parameters by transform name; ``None`` is
        :data:`SINUSOID_RANGES`.
    training_augmentation : callable | None
        With ``augment=False``: builds an augmentation of training batches
        only, e.g. a :class:`~augsleep.augment.TrainingOnly` policy (the
        oracle augmentation of the capacity study); its parameters are frozen.
    on_step : callable | None
        Called with the model after every optimiser step, once its magnitudes
        are projected onto [0, 1] (e.g. to record the weights within an epoch).

    Returns
    -------
    model : AugNet
        The trained model, in evaluation mode.
    history : list of dict
        The per-epoch records of :func:`augsleep.training.fit_loop`
        (``epoch``, ``train_loss``, ``train_ce``, ``train_reg``, ``lam``, ...),
        with the weights and magnitudes (see
        :meth:`AugmentationModule.state_record`).
    """
    with torch.random.fork_rng(devices=[]):
        # The trunk's initialisation draws from torch's global generator.
        torch.manual_seed(random_state)
        generator = make_generator(random_state)
        augmentation = None
        if augment and training_augmentation is not None:
            raise ValueError(
                "training_augmentation replaces the learned augmentation: pass "
                "augment=False with it."
            )
        if augment:
            augmentation = AugmentationModule.from_names(
                [SINUSOID_TRANSFORMS] if layers is None else layers,
                sfreq=100.0,
                magnitude=initial_magnitude,
                temperature=temperature,
                transform_params=(
                    SINUSOID_RANGES if transform_params is None else transform_params
                ),
            )
        elif training_augmentation is not None:
            # A fixed augmentation: nothing of it is learned.
            augmentation = training_augmentation().requires_grad_(False)
        net = SinusoidCNN(n_classes=4) if trunk is None else trunk()
        model = AugNet(net, augmentation, n_copies_train=1)
        optimizer = make_optimizer(
            model,
            lr=lr,
            betas=(0.9, 0.999),
            weight_decay=weight_decay,
            augmentation_weight_decay=weight_decay,
            # The for-each kernel the README's numbers were measured with: the
            # fused one rounds differently, and with the saturating softmax
            # (temperature 0.01) that changes the learned magnitudes.
            fused=False,
        )
        result = fit_loop(
            model,
            X_train,
            y_train,
            optimizer,
            max_epochs=n_epochs,
            batch_size=batch_size,
            generator=generator,
            loss=RegularizedNLLLoss(
                regularizer=partial(_regularization, kind=regularizer)
            ),
            lam=lam,
            post_step=(
                AugNet.clamp_magnitudes_
                if on_step is None
                else partial(_clamp_then, on_step)
            ),
            extra_record=(
                (lambda m: m.augmentation.state_record()) if augment else None
            ),
            on_epoch_end=None if progress is None else (lambda _: progress.update()),
        )
    if result.interrupted:
        raise KeyboardInterrupt  # the demo stops on Ctrl-C (the CLI exits 130)
    return model, result.history


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_epochs: int = 50,
    n_copies_eval: int = 10,
    ablations: bool = True,
) -> dict:
    """Run the sinusoid experiment and write its results.

    Trains AugNet with the AugNet regulariser and the trunk alone; with
    ``ablations``, also AugNet with Augerino's regulariser and without one.
    Prints the learned augmentations and the test accuracies, writes
    ``results.json`` and ``augmentation_history.png`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str | Path
        Output folder (created if needed).
    seed : int
        Seed of the data (``seed`` for training, ``seed + 1`` for test) and of
        every model.
    n_epochs : int
        Training epochs of every model.
    n_copies_eval : int
        Number of augmented copies C averaged at test time.
    ablations : bool
        Whether to also train the two regulariser ablations.

    Returns
    -------
    results : dict
        The content of ``results.json`` (see the README).
    """
    from augsleep.plotting import plot_augmentation_history

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X_train, y_train = (
        torch.as_tensor(a) for a in make_sinusoids(400, random_state=seed)
    )
    X_test, y_test = (
        torch.as_tensor(a) for a in make_sinusoids(200, random_state=seed + 1)
    )

    runs = {"augnet": ("augnet", True), "baseline": ("none", False)}
    if ablations:
        runs |= {"augerino": ("augerino", True), "no_regularizer": ("none", True)}
    results = {
        "seed": seed,
        "n_epochs": n_epochs,
        "n_copies_eval": n_copies_eval,
        "data": {"n_train": len(X_train), "n_test": len(X_test), "delta_f_hz": 0.5},
        "runs": {},
    }
    # The data's true symmetry: shifts of up to +-0.5 Hz.
    shift = FrequencyShift(max_value=0.5, sfreq=100.0).at(1.0)
    with tqdm(total=n_epochs * len(runs), desc="demo", unit="epoch") as bar:
        for name, (regularizer, augment) in runs.items():
            bar.set_postfix_str(name)
            start = time.perf_counter()
            model, history = train_sinusoid_model(
                X_train,
                y_train,
                augment=augment,
                regularizer=regularizer,
                n_epochs=n_epochs,
                random_state=seed,
                progress=bar,
            )
            train_time = time.perf_counter() - start
            generator = make_generator(seed)
            copies = n_copies_eval if augment else 1
            run = {
                "regularizer": regularizer,
                "augmentation": augment,
                "train_time_s": round(train_time, 2),
                "test_accuracy": _accuracy(model, X_test, y_test, copies, generator),
                "history": history,
            }
            if augment:
                run["learned"] = model.augmentation.summary().to_dict("records")
            # Invariance of the trained model to the data's true symmetry; the
            # model's augmentation draws from its own seeded generator, not from
            # torch's global one.
            model.eval()
            averaged = partial(model, generator=make_generator(seed))
            run["median_invariance_to_true_shift"] = float(
                np.median(invariance_score(averaged, X_test, shift, random_state=seed))
            )
            results["runs"][name] = run

    _print_report(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    fig = plot_augmentation_history(
        {k: v["history"] for k, v in results["runs"].items() if v["augmentation"]}
    )
    fig.savefig(out_dir / "augmentation_history.png", dpi=120, bbox_inches="tight")
    print(
        f"Wrote {out_dir / 'results.json'} and {out_dir / 'augmentation_history.png'}"
    )
    return results


def _print_report(results: dict) -> None:
    for name, run in results["runs"].items():
        if "learned" not in run:
            continue
        table = pd.DataFrame(run["learned"]).drop(columns="layer")
        print(f"\nLearned augmentations ({name}, regularizer={run['regularizer']}):")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    summary = pd.DataFrame(
        {
            name: {
                "test accuracy": run["test_accuracy"],
                "median invariance to a 0.5 Hz shift": run[
                    "median_invariance_to_true_shift"
                ],
                "training time (s)": run["train_time_s"],
            }
            for name, run in results["runs"].items()
        }
    ).T
    print(
        f"\nTest set ({results['data']['n_test']} windows, "
        f"C={results['n_copies_eval']} copies for AugNet):"
    )
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
