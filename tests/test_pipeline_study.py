"""Study pipelines (``study: sinusoids``): checks, records, resume, report, Dask.

A tiny study (16 training and 8 test sinusoids of 2 s, one epoch): AugNet on
the sinusoid CNN, evaluated at two C with two draws and its invariance to the
true shift, and the oracle augmentation on a small MLP; two seeds. Its records
must hold what a direct :func:`augsleep.demo.train_sinusoid_model` call with
the same seed gives.
"""

import json
import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from augsleep import cli
from augsleep.pipeline import (
    PipelineError,
    build_report,
    load_pipeline,
    make_tasks,
    read_study,
    run_pipeline,
)

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ["sinusoids", "capacity", "layers", "copies"]

STUDY = {
    "name": "tiny-study",
    "study": "sinusoids",
    "data": {"n_train": 16, "n_test": 8, "duration": 2.0},
    "seeds": [0, 1],
    "trunks": {"small-mlp": {"name": "mlp", "n_layers": 1, "width": 2}},
    "common": {"n_epochs": 1, "batch_size": 8},
    "settings": {
        "augnet": {
            "copies": [1, 3],
            "draws": 2,
            "step_trace_epochs": 1,
            "invariance": {
                "shift": {
                    "transform": "frequency_shift",
                    "max_value": 0.5,
                    "magnitude": 1.0,
                }
            },
        },
        "oracle": {
            "trunk": "small-mlp",
            "augment": False,
            "oracle": {"transform": "frequency_shift", "max_value": 0.5},
        },
    },
    "sizes": {"smaller": {"seeds": [0], "use": ["oracle"]}},
}
N_TASKS = 4  # 2 settings x 2 seeds


def write(folder: Path, content: dict, name: str = "study.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny study run once, one task after another in this process."""
    folder = tmp_path_factory.mktemp("study")
    path = write(folder, STUDY)
    out = folder / "out"
    summary = run_pipeline(
        load_pipeline(path), out, scheduler="sync", torch_threads=1, progress=False
    )
    return path, out, summary


def by_setting(out, setting):
    return {r["seed"]: r for r in read_study(out) if r["setting"] == setting}


def test_every_task_is_recorded_with_what_the_notebooks_read(run):
    _, out, summary = run
    assert (summary.n_tasks, summary.n_run, summary.n_failed) == (N_TASKS, N_TASKS, 0)
    records = read_study(out)
    assert [(r["setting"], r["seed"]) for r in records] == [
        ("augnet", 0),
        ("augnet", 1),
        ("oracle", 0),
        ("oracle", 1),
    ]
    for r in by_setting(out, "augnet").values():
        assert r["kind"] == "study" and r["status"] == "ok"
        assert [a["transform"] for a in r["augmentation"]] == [
            "frequency_shift",
            "ft_surrogate",
            "gaussian_noise",
        ]
        (selected,) = r["selected"]
        weights = [a["weight"] for a in r["augmentation"]]
        assert selected["weight"] == max(weights)
        assert (
            selected["transform"]
            == r["augmentation"][int(np.argmax(weights))]["transform"]
        )
        assert [(a["copies"], a["draw"]) for a in r["test_accuracy"]] == [
            (1, 0),
            (1, 1),
            (3, 0),
            (3, 1),
        ]
        assert [i["copies"] for i in r["invariance"]] == [1, 3]
        for inv in r["invariance"]:
            assert len(inv["scores"]) == 8
            assert inv["q12.5"] <= inv["q25"] <= inv["median"] <= inv["q75"]
            assert inv["median"] == pytest.approx(np.median(inv["scores"]))
            assert (inv["physical_value"], inv["unit"]) == (0.5, "Hz")
        # One epoch of 2 steps, one layer of 3 weights after each.
        assert np.array(r["step_weights"]).shape == (2, 1, 3)
        assert len(r["history"]) == 1 and "weight/0/frequency_shift" in r["history"][0]
        assert r["trunk"]["name"] == "sinusoid_cnn"
        assert "braindecode" not in r["versions"]
    for r in by_setting(out, "oracle").values():
        assert r["augmentation"] is None and r["selected"] is None
        assert r["invariance"] == [] and r["step_weights"] is None
        # MLP 200 -> 2 -> 4.
        assert r["trunk"]["n_parameters"] == 200 * 2 + 2 + 2 * 4 + 4


def test_record_equals_a_direct_training_with_the_same_seed(run):
    from augsleep.augment import Policy, TrainingOnly
    from augsleep.data.sinusoids import make_sinusoids
    from augsleep.demo import train_sinusoid_model
    from augsleep.invariance import invariance_score
    from augsleep.models import MLP
    from augsleep.training import make_generator, predict_log_proba
    from augsleep.transforms import FrequencyShift

    _, out, _ = run
    seed = 1
    X_train, y_train = map(
        torch.as_tensor, make_sinusoids(16, duration=2.0, random_state=seed)
    )
    X_test, y_test = map(
        torch.as_tensor, make_sinusoids(8, duration=2.0, random_state=seed + 1)
    )
    # As the notebooks call it: AugNet with the demo's defaults.
    model, history = train_sinusoid_model(
        X_train, y_train, n_epochs=1, batch_size=8, random_state=seed
    )
    record = by_setting(out, "augnet")[seed]
    learned = model.augmentation.summary()
    assert [a["weight"] for a in record["augmentation"]] == learned["weight"].tolist()
    assert [a["magnitude"] for a in record["augmentation"]] == (
        learned["magnitude"].tolist()
    )
    assert record["history"][0]["train_loss"] == history[0]["train_loss"]
    for row in record["test_accuracy"]:
        log_proba = predict_log_proba(
            model,
            X_test,
            n_copies=row["copies"],
            generator=make_generator(seed + row["draw"]),
        )
        assert row["accuracy"] == float((log_proba.argmax(1) == y_test).float().mean())
    shift = FrequencyShift(max_value=0.5, sfreq=100.0).at(1.0)
    for inv in record["invariance"]:
        averaged = partial(
            model, generator=make_generator(seed), n_copies=inv["copies"]
        )
        scores = invariance_score(averaged, X_test, shift, random_state=seed)
        np.testing.assert_allclose(inv["scores"], scores, rtol=1e-6, atol=1e-7)

    # The oracle augmentation, built as notebook 2 builds it.
    def oracle():
        shift = FrequencyShift(max_value=0.5, sfreq=100.0)
        choice = [[("frequency_shift", 0.5, 1.0)]]
        return TrainingOnly(Policy.from_choices([shift], choice))

    baseline, history = train_sinusoid_model(
        X_train,
        y_train,
        augment=False,
        training_augmentation=oracle,
        trunk=partial(MLP, 200, n_neurons=2, n_layers=1),
        n_epochs=1,
        batch_size=8,
        random_state=seed,
    )
    record = by_setting(out, "oracle")[seed]
    assert record["history"][0]["train_loss"] == history[0]["train_loss"]
    log_proba = predict_log_proba(
        baseline, X_test, n_copies=1, generator=make_generator(seed)
    )
    accuracy = float((log_proba.argmax(1) == y_test).float().mean())
    assert record["test_accuracy"][0]["accuracy"] == accuracy


def test_rerun_skips_finished_tasks_and_recomputes_a_lost_one(run, tmp_path):
    path, out, _ = run
    copy = tmp_path / "out"
    (copy / "records").mkdir(parents=True)
    for source in (out / "records").glob("*.json"):
        (copy / "records" / source.name).write_bytes(source.read_bytes())
    before = {p.name: p.stat().st_mtime_ns for p in (copy / "records").glob("*.json")}
    pipeline = load_pipeline(path)
    again = run_pipeline(
        pipeline, copy, scheduler="sync", torch_threads=1, progress=False
    )
    assert (again.n_skipped, again.n_run) == (N_TASKS, 0)
    after = {p.name: p.stat().st_mtime_ns for p in (copy / "records").glob("*.json")}
    assert after == before
    lost = sorted((copy / "records").glob("*augnet-seed1-*.json"))[0]
    old = json.loads(lost.read_text())
    lost.unlink()
    again = run_pipeline(
        pipeline, copy, scheduler="sync", torch_threads=1, progress=False
    )
    assert (again.n_skipped, again.n_run) == (N_TASKS - 1, 1)
    new = json.loads(lost.read_text())
    for key in ("augmentation", "test_accuracy", "invariance", "step_weights"):
        assert new[key] == old[key]


def untimed(history):
    """A history without its durations (``*_s``), which vary from run to run."""
    return [{k: v for k, v in h.items() if not k.endswith("_s")} for h in history]


def test_local_cluster_gives_the_same_records(run, tmp_path):
    path, out, _ = run
    summary = run_pipeline(
        load_pipeline(path),
        tmp_path / "out",
        scheduler="local",
        n_workers=2,
        torch_threads=1,
        progress=False,
    )
    assert (summary.n_run, summary.n_failed) == (N_TASKS, 0)
    dask, sync = read_study(tmp_path / "out"), read_study(out)
    assert {r["worker"]["pid"] for r in dask}.isdisjoint(
        {r["worker"]["pid"] for r in sync}
    )
    for a, b in zip(dask, sync, strict=True):
        assert a["task_id"] == b["task_id"]
        for key in ("augmentation", "test_accuracy"):
            assert a[key] == b[key]
        assert untimed(a["history"]) == untimed(b["history"])
        for x, y in zip(a["invariance"], b["invariance"], strict=True):
            np.testing.assert_allclose(x["scores"], y["scores"], rtol=1e-6, atol=1e-7)


def test_report_writes_the_study_table_and_skips_the_sleep_figures(run, capsys):
    _, out, _ = run
    written = build_report(out)
    assert set(written) == {"table.csv", "table.md", "notes"}
    assert any("Fig" in note and "skipped" in note for note in written["notes"])
    import pandas as pd

    table = pd.read_csv(written["table.csv"]).set_index("setting")
    records = by_setting(out, "augnet")
    per_seed = [
        np.mean([a["accuracy"] for a in r["test_accuracy"] if a["copies"] == 3])
        for r in records.values()
    ]
    assert table.loc["augnet", "accuracy_C3_mean"] == pytest.approx(np.mean(per_seed))
    pooled = np.concatenate(
        [
            [i for i in r["invariance"] if i["copies"] == 1][0]["scores"]
            for r in records.values()
        ]
    )
    assert table.loc["augnet", "invariance_shift_C1"] == pytest.approx(
        np.median(pooled)
    )
    assert table.loc["oracle", "n_ok"] == 2
    assert np.isnan(table.loc["oracle", "invariance_shift_C1"])
    assert cli.main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| augnet | 2 |" in text and "skipped" in text


def test_cli_dry_run_at_a_size(run, capsys):
    path, _, _ = run
    code = cli.main(
        ["run", str(path), "--size", "smaller", "--out", str(path.parent / "x")]
        + ["--dry-run"]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tiny-study-oracle-seed0  [to run]")
    assert lines[-1].startswith("1 tasks: 0 done, 1 to run")


def test_a_size_overrides_the_fields_it_names(tmp_path):
    path = write(tmp_path, STUDY)
    full, small = load_pipeline(path), load_pipeline(path, size="smaller")
    assert (full.size, small.size) == ("full", "smaller")
    assert [t.task_id for t in make_tasks(small)] == ["tiny-study-oracle-seed0"]
    assert small.settings[0].params == full.settings[1].params
    assert make_tasks(small)[0].record_name in {t.record_name for t in make_tasks(full)}
    # Mappings are merged key by key: one field of one setting.
    content = {**STUDY, "sizes": {"s": {"settings": {"augnet": {"draws": 5}}}}}
    sized = load_pipeline(write(tmp_path, content, "b.yml"), size="s")
    augnet = sized.settings[0].params
    assert (augnet["draws"], augnet["copies"]) == (5, [1, 3])


def test_a_sleep_pipeline_has_sizes_too(tmp_path):
    (tmp_path / "folds.json").write_text(
        json.dumps({"folds": [{"train": [1], "valid": [2], "test": [3]}]})
    )
    content = {
        "name": "s",
        "dataset": {"loader": "synthetic_mass", "synthetic": {"n_subjects": 3}},
        "folds": "folds.json",
        "seeds": [0, 1],
        "common": {"max_epochs": 5, "batch_size": 16},
        "methods": {"none": {}},
        "sizes": {"quick": {"seeds": [0], "common": {"max_epochs": 1}}},
    }
    path = write(tmp_path, content)
    quick = load_pipeline(path, size="quick")
    assert quick.seeds == [0]
    assert quick.methods[0].params == {"max_epochs": 1, "batch_size": 16}
    assert len(make_tasks(load_pipeline(path))) == 2


def _edit(**changes):
    content = json.loads(json.dumps(STUDY))
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = content
        for parent in parents:
            target = target.setdefault(parent, {})
        target[key] = value
    return content


SHIFT = {"transform": "frequency_shift"}
BAD = [
    (_edit(study="cifar"), "study: unknown study 'cifar'"),
    (_edit(methods={}), "methods: unknown field of a study pipeline"),
    (_edit(data__freqs=[1, 2]), "data.freqs: unknown field"),
    (_edit(data__n_train=1), "data.n_train: must be an integer >= 2"),
    (_edit(seeds=[0, 0]), "seeds: must be distinct integers"),
    (_edit(common__n_epochs=0), "common.n_epochs: must be an integer >= 1"),
    (_edit(settings__augnet__lamda=1), "settings.augnet.lamda: unknown field"),
    (_edit(settings__augnet__lam=-1), "settings.augnet.lam: must be a number >= 0"),
    (
        _edit(settings__augnet__regularizer="l2"),
        "settings.augnet.regularizer: must be one of",
    ),
    (
        _edit(settings__augnet__trunk="resnet"),
        "settings.augnet.trunk: unknown trunk 'resnet'",
    ),
    (
        _edit(trunks__t={"name": "mlp", "depth": 2}),
        "trunks.t.depth: unknown field",
    ),
    (
        _edit(trunks__t={"name": "mlp", "width": 0}),
        "trunks.t.width: must be an integer >= 1",
    ),
    (
        _edit(settings__augnet__transforms=["time_warp"]),
        "settings.augnet.transforms.time_warp: unknown transform 'time_warp'",
    ),
    (
        _edit(settings__augnet__transforms=["channels_symmetry"]),
        "settings.augnet.transforms.channels_symmetry: cannot build",
    ),
    (
        _edit(
            settings__augnet__transform_params={"frequency_shift": {"max_value": -1}}
        ),
        "settings.augnet.transform_params.frequency_shift: cannot build .*"
        "max_value must be positive",
    ),
    (
        _edit(settings__augnet__transform_params={"time_reverse": {}}),
        "settings.augnet.transform_params.time_reverse: not one of the setting's",
    ),
    (_edit(settings__augnet__copies=[0]), "settings.augnet.copies: must list distinct"),
    (
        _edit(settings__augnet__draws=0),
        "settings.augnet.draws: must be an integer >= 1",
    ),
    (
        _edit(settings__augnet__oracle=SHIFT),
        "settings.augnet.oracle: an oracle augmentation replaces the learned one",
    ),
    (
        _edit(settings__oracle__oracle={"max_value": 0.5}),
        "settings.oracle.oracle.transform: missing",
    ),
    (
        _edit(settings__oracle__oracle={**SHIFT, "probability": 2}),
        "settings.oracle.oracle.probability: must be a number >= 0 and <= 1",
    ),
    (
        _edit(settings__augnet__invariance={"p": {**SHIFT, "magnitude": 2}}),
        "settings.augnet.invariance.p.magnitude: must be a number >= 0 and <= 1",
    ),
    (_edit(settings__augnet__seeds=[-1]), "settings.augnet.seeds: must be distinct"),
    (_edit(use=["nope"]), "use: no setting 'nope'"),
    (_edit(settings={}), "settings: expected a non-empty mapping"),
    (_edit(sizes__full={"seeds": [0]}), "sizes.full: reserved"),
    (_edit(sizes__q=[1]), "sizes.q: expected a mapping"),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_study_files_name_the_file_and_field(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(PipelineError, match=f"^{re.escape(str(path))}: {message}"):
        load_pipeline(path)


def test_unknown_size_is_named(tmp_path):
    path = write(tmp_path, STUDY)
    with pytest.raises(
        PipelineError, match=f"^{re.escape(str(path))}: sizes: no size 'huge'"
    ):
        load_pipeline(path, size="huge")
    assert cli.main(["run", str(path), "--size", "huge", "--out", "x"]) == 2


@pytest.mark.parametrize("study", STUDIES)
def test_shipped_study_files_are_valid_at_every_size(study):
    path = ROOT / "pipelines" / f"{study}.yml"
    raw = yaml.safe_load(path.read_text())
    full = load_pipeline(path)
    assert full.kind == "study" and full.name == study
    for size in raw["sizes"]:
        sized = load_pipeline(path, size=size)
        assert 0 < len(make_tasks(sized)) <= len(make_tasks(full))


def test_shipped_study_files_have_the_notebooks_full_sizes():
    def load(name):
        return load_pipeline(ROOT / "pipelines" / f"{name}.yml")

    sinusoids = load("sinusoids")
    assert sinusoids.seeds == list(range(10))
    assert sinusoids.data["n_train"] == 400 and sinusoids.data["n_test"] == 200
    assert {s.label for s in sinusoids.settings} >= {
        "augnet",
        "augerino",
        "no-regularizer",
        "augnet-mu0.05",
        "baseline",
    }
    assert all(s.params["n_epochs"] == 50 for s in sinusoids.settings)
    capacity = load("capacity")
    trunks = {
        (s.params["trunk"]["n_layers"], s.params["trunk"]["width"])
        for s in capacity.settings
        if s.params["trunk"]["name"] == "mlp"
    }
    assert trunks == {(1, 1), (1, 2), (1, 4), (1, 8), (2, 2), (3, 2)}
    assert len(make_tasks(capacity)) == (6 * 3 + 1) * 3
    layers = load("layers")
    assert [s.params["augmentation_layers"] for s in layers.settings] == [1, 2, 4]
    (copies,) = load("copies").settings
    assert copies.params["copies"] == [1, 2, 4, 6, 8, 10, 15, 20, 30, 40]
    assert copies.params["draws"] == 20
