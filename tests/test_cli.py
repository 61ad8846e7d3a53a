"""Error paths of the command line (issue 15, nothing lost silently).

The demo itself is replaced by a stand-in: these tests are about what ``main``
checks before it starts training, and about what it leaves behind.
"""

import os

import pytest

import augsleep
import augsleep.demo
from augsleep.cli import main


@pytest.fixture
def demo_calls(monkeypatch):
    """Replace the demo by a stand-in that records its calls."""
    calls = []

    def fake_run_demo(out_dir, **kwargs):
        calls.append((out_dir, kwargs))
        return {}

    monkeypatch.setattr(augsleep.demo, "run_demo", fake_run_demo)
    return calls


def interrupt_demo(monkeypatch, before=None):
    """Make the demo raise KeyboardInterrupt (after calling ``before(out_dir)``)."""

    def interrupted(out_dir, **kwargs):
        if before is not None:
            before(out_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(augsleep.demo, "run_demo", interrupted)


def usage_error(capsys, argv, *fragments):
    """Run ``main(argv)``: status 2, one usage error naming ``fragments``."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error:" in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


# ------------------------------------------------------------- arguments ---


def test_defaults_reach_the_demo(tmp_path, demo_calls):
    assert main(["demo", "--out", str(tmp_path / "out")]) == 0
    assert demo_calls == [
        (
            str(tmp_path / "out"),
            {"seed": 0, "n_epochs": 50, "n_copies_eval": 10, "ablations": True},
        )
    ]


@pytest.mark.parametrize("seed", ["-1", "-7", str(2**32 - 1), "1.5", "zero"])
def test_bad_seed_is_a_usage_error_naming_the_value(tmp_path, capsys, demo_calls, seed):
    out = tmp_path / "out"
    err = usage_error(capsys, ["demo", "--out", str(out), "--seed", seed], "--seed")
    assert repr(seed) in err
    assert "integer in [0, 4294967294]" in err
    assert demo_calls == []
    assert not out.exists()


@pytest.mark.parametrize("seed", ["0", "42", str(2**32 - 2)])
def test_good_seed_reaches_the_demo(tmp_path, demo_calls, seed):
    assert main(["demo", "--out", str(tmp_path), "--seed", seed]) == 0
    assert demo_calls[0][1]["seed"] == int(seed)


@pytest.mark.parametrize("option", ["--epochs", "--copies"])
@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_bad_count_is_a_usage_error_naming_the_value(
    tmp_path, capsys, demo_calls, option, value
):
    err = usage_error(
        capsys, ["demo", "--out", str(tmp_path), option, value], f"argument {option}"
    )
    assert f"must be an integer >= 1, got {value!r}" in err
    assert demo_calls == []


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"augsleep {augsleep.__version__}\n"


def test_help_exits_with_status_0(capsys):
    assert main(["demo", "--help"]) == 0
    assert "--out" in capsys.readouterr().out


# --------------------------------------------------------- output folder ---


def test_output_folder_under_a_regular_file_is_refused_before_training(
    tmp_path, capsys, demo_calls
):
    regular = tmp_path / "results.txt"
    regular.write_text("a user's file\n")
    out = regular / "demo"
    assert main(["demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the output folder {str(out)!r}" in err
    assert "Traceback" not in err
    assert demo_calls == []  # nothing trained
    assert regular.read_text() == "a user's file\n"


def test_output_folder_that_is_a_regular_file_is_refused(tmp_path, capsys, demo_calls):
    regular = tmp_path / "results"
    regular.write_text("keep me\n")
    assert main(["demo", "--out", str(regular)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the output folder {str(regular)!r}" in err
    assert "not a directory" in err
    assert demo_calls == []
    assert regular.read_text() == "keep me\n"


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes through permission bits",
)
@pytest.mark.parametrize("nested", [False, True])
def test_output_folder_without_write_permission_is_refused(
    tmp_path, capsys, demo_calls, nested
):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        out = locked / "demo" if nested else locked
        assert main(["demo", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"cannot write the output folder {str(out)!r}" in err
        assert demo_calls == []
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_output_folders_are_created_and_left_without_the_probe(tmp_path, demo_calls):
    out = tmp_path / "a" / "b" / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    assert out.is_dir()
    assert list(out.iterdir()) == []  # the write probe is gone
    assert len(demo_calls) == 1


def test_existing_output_folder_keeps_its_files(tmp_path, demo_calls):
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


# ---------------------------------------------------------------- Ctrl-C ---


def test_ctrl_c_exits_130_with_one_line_and_removes_the_new_empty_folder(
    tmp_path, capsys, monkeypatch
):
    interrupt_demo(monkeypatch)
    out = tmp_path / "new" / "demo"
    assert main(["demo", "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert captured.err == "augsleep demo: interrupted\n"
    assert "Traceback" not in captured.out
    # Both folders were made by this run and left empty: both are gone.
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_keeps_a_folder_that_existed(tmp_path, capsys, monkeypatch):
    interrupt_demo(monkeypatch)
    out = tmp_path / "existing"
    out.mkdir()
    assert main(["demo", "--out", str(out)]) == 130
    assert capsys.readouterr().err == "augsleep demo: interrupted\n"
    assert out.is_dir()


def test_ctrl_c_keeps_a_new_folder_that_holds_files(tmp_path, capsys, monkeypatch):
    def write_partial(out_dir):
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            f.write("{}")

    interrupt_demo(monkeypatch, before=write_partial)
    out = tmp_path / "new" / "demo"
    assert main(["demo", "--out", str(out)]) == 130
    assert capsys.readouterr().err == "augsleep demo: interrupted\n"
    assert (out / "results.json").read_text() == "{}"


def test_ctrl_c_keeps_the_parent_a_user_had(tmp_path, capsys, monkeypatch):
    interrupt_demo(monkeypatch)
    parent = tmp_path / "mine"
    parent.mkdir()
    assert main(["demo", "--out", str(parent / "demo")]) == 130
    assert parent.is_dir()
    assert list(parent.iterdir()) == []


def test_a_failed_demo_removes_its_new_empty_folder_and_raises(tmp_path, monkeypatch):
    def broken(out_dir, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(augsleep.demo, "run_demo", broken)
    out = tmp_path / "demo"
    with pytest.raises(RuntimeError, match="boom"):
        main(["demo", "--out", str(out)])
    assert not out.exists()
