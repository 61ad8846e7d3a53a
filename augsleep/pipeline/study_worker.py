"""What one study task does on a worker: draw the sinusoids, train, evaluate, record.

:func:`run_study_task` takes the JSON-able spec of :meth:`StudyTask.spec
<augsleep.pipeline.study.StudyTask.spec>`, draws the training and test data
from the task's seed, trains with :func:`augsleep.demo.train_sinusoid_model`
and writes one record (atomically, :func:`augsleep.pipeline.records.write_record`)
with what the study notebooks tabulate: the learned weights and magnitudes of
every layer and the transform each selected, the test accuracy at each number
of copies C and draw, the invariance (Eq. 4) to each probe at each C with its
quantiles and per-window scores, the per-epoch history and, when asked, the
weights after each of the first optimiser steps. An exception in the task
becomes a ``failed`` record with its traceback; the run goes on.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from augsleep.pipeline.study import SFREQ
from augsleep.pipeline.worker import recorded_run

#: Quantiles of the invariance scores kept in a record.
QUANTILES = {"q12.5": 0.125, "q25": 0.25, "median": 0.5, "q75": 0.75, "q87.5": 0.875}


def make_data(data: dict, seed: int):
    """Draw a task's training (``seed``) and test (``seed + 1``) sinusoids.

    Parameters
    ----------
    data : dict
        ``n_train``, ``n_test`` and the other arguments of
        :func:`~augsleep.data.sinusoids.make_sinusoids`.
    seed : int
        The task's seed.

    Returns
    -------
    X_train : Tensor, shape (n_train, 1, n_times)
    y_train : Tensor, shape (n_train,)
    X_test : Tensor, shape (n_test, 1, n_times)
    y_test : Tensor, shape (n_test,)
    """
    import torch

    from augsleep.data.sinusoids import make_sinusoids

    options = {k: v for k, v in data.items() if k not in ("n_train", "n_test")}
    train = make_sinusoids(data["n_train"], random_state=seed, sfreq=SFREQ, **options)
    test = make_sinusoids(data["n_test"], random_state=seed + 1, sfreq=SFREQ, **options)
    return (*map(torch.as_tensor, train), *map(torch.as_tensor, test))


def build_trunk(spec: dict, n_inputs: int):
    """Return the builder of a trunk spec (called after torch is seeded).

    Parameters
    ----------
    spec : dict
        ``name`` (``sinusoid_cnn`` or ``mlp``) and, for ``mlp``, ``n_layers``
        and ``width``.
    n_inputs : int
        ``n_channels * n_times`` of the windows (the MLP's input size).

    Returns
    -------
    builder : callable
        Builds the trunk with no argument (4 classes).
    """
    from augsleep.models import MLP, SinusoidCNN

    if spec["name"] == "mlp":
        return partial(
            MLP, n_inputs, n_neurons=spec["width"], n_layers=spec["n_layers"]
        )
    return partial(SinusoidCNN, n_classes=4)


def build_oracle(spec: dict):
    """Return the builder of a fixed training-only augmentation (capacity study).

    Parameters
    ----------
    spec : dict
        ``transform``, ``probability``, ``magnitude`` and the transform's
        ``params`` (e.g. ``max_value: 0.5`` for shifts within +-0.5 Hz).

    Returns
    -------
    builder : callable
        Builds a :class:`~augsleep.augment.TrainingOnly` one-stage
        :class:`~augsleep.augment.Policy` applying the transform at that
        magnitude with that probability to training batches.
    """
    from augsleep.augment import Policy, TrainingOnly
    from augsleep.transforms import make_transform

    def oracle():
        transform = make_transform(spec["transform"], sfreq=SFREQ, **spec["params"])
        choice = (spec["transform"], spec["probability"], spec["magnitude"])
        return TrainingOnly(Policy.from_choices([transform], [[choice]]))

    return oracle


def train_kwargs(params: dict, n_inputs: int) -> dict:
    """Arguments of :func:`augsleep.demo.train_sinusoid_model` for a setting."""
    kwargs = {
        key: params[key]
        for key in (
            "augment",
            "regularizer",
            "lam",
            "n_epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "temperature",
            "initial_magnitude",
        )
    }
    kwargs["trunk"] = build_trunk(params["trunk"], n_inputs)
    if params["augment"]:
        kwargs["layers"] = [list(params["transforms"])] * params["augmentation_layers"]
        kwargs["transform_params"] = params["transform_params"]
    if params["oracle"] is not None:
        kwargs["training_augmentation"] = build_oracle(params["oracle"])
    return kwargs


def _selected(summary) -> list[dict]:
    """Per layer: the transform of largest weight and the layer's ||w * mu||."""
    rows = []
    for layer, part in summary.groupby("layer"):
        best = part.loc[part["weight"].idxmax()]
        rows.append(
            {
                "layer": int(layer),
                "transform": best["transform"],
                "weight": float(best["weight"]),
                "magnitude": float(best["magnitude"]),
                "physical_value": float(best["physical_value"]),
                "unit": best["unit"],
                "w_mu_norm": float(np.linalg.norm(part["weight"] * part["magnitude"])),
            }
        )
    return rows


def evaluate(model, X_test, y_test, params: dict, seed: int) -> dict:
    """Test accuracy at each C and draw, invariance to each probe at each C.

    Parameters
    ----------
    model : AugNet
        The trained model.
    X_test : Tensor, shape (n_test, 1, n_times)
    y_test : Tensor, shape (n_test,)
    params : dict
        The setting (``copies``, ``draws``, ``invariance``).
    seed : int
        The task's seed: draw ``k`` predicts with ``make_generator(seed + k)``;
        the invariance uses draw 0 and pairs the inputs with seed ``seed``.

    Returns
    -------
    results : dict
        ``test_accuracy`` (rows ``copies``, ``draw``, ``accuracy``) and
        ``invariance`` (rows ``probe``, ``transform``, ``magnitude``,
        ``physical_value``, ``unit``, ``copies``, the :data:`QUANTILES`,
        ``mean`` and ``scores``, one per test window).
    """
    from augsleep.invariance import invariance_score
    from augsleep.training import make_generator, predict_log_proba
    from augsleep.transforms import make_transform

    model.eval()
    accuracy = []
    for n_copies in params["copies"]:
        for draw in range(params["draws"]):
            log_proba = predict_log_proba(
                model, X_test, n_copies=n_copies, generator=make_generator(seed + draw)
            )
            accuracy.append(
                {
                    "copies": n_copies,
                    "draw": draw,
                    "accuracy": float((log_proba.argmax(1) == y_test).float().mean()),
                }
            )
    invariance = []
    for probe, spec in params["invariance"].items():
        transform = make_transform(spec["transform"], sfreq=SFREQ, **spec["params"])
        for n_copies in params["copies"]:
            # The averaged model draws from its own seeded generator, not from
            # torch's global one.
            averaged = partial(model, generator=make_generator(seed), n_copies=n_copies)
            scores = invariance_score(
                averaged, X_test, transform.at(spec["magnitude"]), random_state=seed
            )
            invariance.append(
                {
                    "probe": probe,
                    "transform": spec["transform"],
                    "magnitude": spec["magnitude"],
                    "physical_value": float(
                        transform.physical_value(spec["magnitude"])
                    ),
                    "unit": transform.unit,
                    "copies": n_copies,
                    **{k: float(np.quantile(scores, q)) for k, q in QUANTILES.items()},
                    "mean": float(np.mean(scores)),
                    "scores": scores.astype(float).tolist(),
                }
            )
    return {"test_accuracy": accuracy, "invariance": invariance}


def train_and_evaluate(spec: dict, timings: dict | None = None) -> dict:
    """Train a study task's model and evaluate it (no record written).

    Parameters
    ----------
    spec : dict
        From :meth:`StudyTask.spec <augsleep.pipeline.study.StudyTask.spec>`.
    timings : dict | None
        Filled with ``train_s`` and ``evaluate_s``.

    Returns
    -------
    results : dict
        The record's result fields.
    """
    import torch

    from augsleep.demo import train_sinusoid_model

    timings = {} if timings is None else timings
    torch.set_num_threads(spec["torch_threads"])
    params, seed = spec["params"], spec["seed"]
    X_train, y_train, X_test, y_test = make_data(spec["data"], seed)
    n_inputs = X_train.shape[1] * X_train.shape[2]
    steps: list = []
    on_step = None
    if params["step_trace_epochs"] and params["augment"]:
        n_steps = params["step_trace_epochs"] * -(-len(X_train) // params["batch_size"])

        def on_step(model):
            """Keep every layer's weights after each of the first steps."""
            if len(steps) < n_steps:
                steps.append(
                    [layer.weights.tolist() for layer in model.augmentation.layers]
                )

    start = time.perf_counter()
    model, history = train_sinusoid_model(
        X_train,
        y_train,
        random_state=seed,
        on_step=on_step,
        **train_kwargs(params, n_inputs),
    )
    timings["train_s"] = time.perf_counter() - start
    start = time.perf_counter()
    results = evaluate(model, X_test, y_test, params, seed)
    timings["evaluate_s"] = time.perf_counter() - start
    summary = model.augmentation.summary() if params["augment"] else None
    return {
        "n_windows": {"train": len(X_train), "test": len(X_test)},
        "trunk": {
            **params["trunk"],
            "n_parameters": int(sum(p.numel() for p in model.trunk.parameters())),
        },
        "augmentation": None if summary is None else summary.to_dict("records"),
        "selected": None if summary is None else _selected(summary),
        **results,
        "history": history,
        "step_weights": steps if on_step is not None else None,
    }


def run_study_task(spec: dict, records_dir: str | None = None) -> dict:
    """Run one study task and write its record.

    Parameters
    ----------
    spec : dict
        From :meth:`StudyTask.spec <augsleep.pipeline.study.StudyTask.spec>`.
    records_dir : str | None
        Folder of the records (None: do not write).

    Returns
    -------
    record : dict
        ``status`` is ``"ok"`` or ``"failed"`` (then ``error`` holds the
        exception's type, message and traceback).
    """
    return recorded_run(
        spec["header"],
        lambda timings: train_and_evaluate(spec, timings),
        records_dir,
        spec["record_name"],
        eeg=False,
    )
