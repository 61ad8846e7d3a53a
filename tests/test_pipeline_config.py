"""Pipeline files: bad ones are refused, naming file and field, before training."""

import json
from pathlib import Path

import pytest

from augsleep import cli
from augsleep.pipeline import PipelineError, load_pipeline, make_tasks
from augsleep.pipeline.folds import FoldError, load_folds, make_folds

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "pipelines").glob("*.yml"))

GOOD = """\
name: t
dataset:
  loader: npz
  path: nights
folds: folds.json
seeds: [0, 1]
common: {max_epochs: 1}
methods:
  none: {}
  augnet: {lam: 10}
  augnet-small: {method: augnet, lam: 1}
"""
FOLDS = {"folds": [{"train": [0], "valid": [1], "test": [2]}]}


@pytest.fixture
def folder(tmp_path):
    """A folder with three tiny npz nights (subjects 0-2) and a fold file."""
    import numpy as np

    nights = tmp_path / "nights"
    nights.mkdir()
    for subject in range(3):
        np.savez(
            nights / f"SC40{subject}1E0.npz",
            x=np.zeros((5, 500, 1), np.float32),
            y=np.arange(5, dtype=np.int32),
            fs=100.0,
            ch_label="EEG Fpz-Cz",
        )
    (tmp_path / "folds.json").write_text(json.dumps(FOLDS))
    return tmp_path


def write(folder, text, name="p.yml"):
    path = folder / name
    path.write_text(text)
    return path


def test_good_pipeline_gives_its_tasks(folder):
    pipeline = load_pipeline(write(folder, GOOD))
    assert [m.label for m in pipeline.methods] == ["none", "augnet", "augnet-small"]
    assert pipeline.methods[2].name == "augnet"
    assert pipeline.methods[2].params == {"max_epochs": 1, "lam": 1}
    assert pipeline.dataset["path"] == str(folder / "nights")
    tasks = make_tasks(pipeline)
    assert len(tasks) == 1 * 3 * 2
    assert len({t.config_hash for t in tasks}) == 6
    assert tasks[0].task_id == "npz-fold0-none-seed0"
    # The hash ignores where the data lie (the same task on another machine).
    moved = folder / "elsewhere"
    (folder / "nights").rename(moved)
    other = make_tasks(load_pipeline(folder / "p.yml", data_dir=moved))
    assert [t.config_hash for t in other] == [t.config_hash for t in tasks]


def test_environment_variable_overrides_the_data_path(folder, monkeypatch):
    text = GOOD.replace("path: nights", "path: missing\n  path_env: MY_NIGHTS")
    path = write(folder, text)
    with pytest.raises(PipelineError, match="dataset.path: data folder not found"):
        load_pipeline(path)
    monkeypatch.setenv("MY_NIGHTS", str(folder / "nights"))
    assert load_pipeline(path).dataset["path"] == str(folder / "nights")


BAD = [
    (
        "unknown method",
        GOOD.replace("augnet: {lam: 10}", "augnot: {}"),
        r"methods\.augnot: unknown method 'augnot' \(available: \[",
    ),
    (
        "unknown parameter",
        GOOD.replace("{lam: 10}", "{lamda: 10}"),
        r"methods\.augnet\.lamda: not a parameter of AugNetClassifier",
    ),
    (
        "bad parameter value",
        GOOD.replace("{lam: 10}", "{lam: -1}"),
        r"methods\.augnet: The 'lam' parameter of AugNetClassifier",
    ),
    (
        "common parameter",
        GOOD.replace("max_epochs: 1", "max_epoch: 1"),
        r"common\.max_epoch: not a parameter",
    ),
    (
        "reserved parameter",
        GOOD.replace("{lam: 10}", "{sfreq: 100}"),
        r"methods\.augnet\.sfreq: set by the pipeline",
    ),
    (
        "missing data",
        GOOD.replace("path: nights", "path: no-such-folder"),
        r"dataset\.path: data folder not found: .*no-such-folder",
    ),
    (
        "unknown loader",
        GOOD.replace("loader: npz", "loader: edf"),
        r"dataset\.loader: unknown loader 'edf'",
    ),
    (
        "unknown loader option",
        GOOD.replace("path: nights", "path: nights\n  options: {sfreq: 1}"),
        r"dataset\.options\.sfreq: not an option of the 'npz' loader",
    ),
    (
        "missing fold file",
        GOOD.replace("folds.json", "nofolds.json"),
        r"folds\.file: fold file not found",
    ),
    (
        "fold index",
        GOOD.replace("folds: folds.json", "folds: {file: folds.json, use: [3]}"),
        r"folds\.use: must list distinct fold indices in \[0, 0\]",
    ),
    ("seeds", GOOD.replace("[0, 1]", "[0, 0]"), r"seeds: must be distinct"),
    ("unknown field", GOOD + "budget: 3\n", r": budget: unknown field"),
    (
        "bad YAML",
        GOOD.replace("none: {}", "none: {"),
        r": not valid YAML \(line 11, column 3\): expected ',' or '}'",
    ),
    ("not a mapping", "- a\n- b\n", r": expected a mapping of fields"),
    ("figure", GOOD + "report: {figures: [fig7]}\n", r"report\.figures: must list"),
]


@pytest.mark.parametrize("text, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_pipeline_names_file_and_field(folder, text, match):
    path = write(folder, text)
    with pytest.raises(PipelineError, match=match) as info:
        load_pipeline(path)
    assert str(info.value).startswith(str(path))


def test_fold_naming_an_unknown_subject(folder):
    (folder / "folds.json").write_text(
        json.dumps({"folds": [{"train": [0], "valid": [1], "test": [7]}]})
    )
    with pytest.raises(PipelineError) as info:
        load_pipeline(write(folder, GOOD))
    message = str(info.value)
    assert message.startswith(str(folder / "p.yml") + ": folds.file: ")
    assert (
        "folds.json: folds[0].test: subjects [7] do not exist in the dataset" in message
    )
    assert "(it has subjects 0-2)" in message


@pytest.mark.parametrize(
    "fold, match",
    [
        (
            {"train": [0], "valid": [0], "test": [2]},
            r"folds\[0\]: subjects \[0\] are in train and valid",
        ),
        (
            {"train": [], "valid": [1], "test": [2]},
            r"folds\[0\]\.train: must be a non-empty list",
        ),
        (
            {"train": ["a"], "valid": [1], "test": [2]},
            r"folds\[0\]\.train: subject ids must be integers",
        ),
        ({"train": [0], "valid": [1]}, r"folds\[0\]\.test: missing"),
    ],
)
def test_bad_fold_files(tmp_path, fold, match):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"folds": [fold]}))
    with pytest.raises(FoldError, match=match):
        load_folds(path)
    path.write_text("{not json")
    with pytest.raises(FoldError, match="cannot read the fold file"):
        load_folds(path)


def test_cli_refuses_a_bad_pipeline_before_running(folder, capsys):
    path = write(folder, GOOD.replace("{lam: 10}", "{lamda: 10}"))
    out = folder / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"augsleep run: error: {path}: methods.augnet.lamda")
    assert "(nothing was run)" in err
    assert not out.exists()


def test_cli_dry_run_lists_tasks_and_writes_nothing(folder, capsys):
    out = folder / "out"
    assert (
        cli.main(["run", str(write(folder, GOOD)), "--out", str(out), "--dry-run"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("npz-fold0-none-seed0  [to run]  npz-fold0-none-seed0-")
    assert lines[-1].startswith("6 tasks: 0 done, 6 to run")
    assert not out.exists()


def test_cli_list_names_every_method(capsys):
    from augsleep.methods import METHODS

    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    for name, cls in METHODS.items():
        assert f"{name}" in text and cls.__name__ in text


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_pipelines_are_valid(path):
    # Their data may be absent here: check everything else.
    pipeline = load_pipeline(path, check_data=False)
    assert make_tasks(pipeline)


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "folds").glob("*.json")))
def test_shipped_fold_files_are_valid(path):
    folds = load_folds(path)
    for fold in folds:
        assert fold.train and fold.valid and fold.test
    tested = [s for f in folds for s in f.test]
    assert len(tested) == len(set(tested))  # every subject tested at most once


def test_make_folds_matches_the_paper_sizes():
    subjects = list(range(1, 61))
    folds = make_folds(subjects, n_splits=5, valid_size=24, random_state=0)
    assert [(len(f["train"]), len(f["valid"]), len(f["test"])) for f in folds] == [
        (24, 24, 12)
    ] * 5
    assert sorted(s for f in folds for s in f["test"]) == subjects
