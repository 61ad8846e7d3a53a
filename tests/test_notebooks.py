"""Every study notebook executes at its quick size, in a fresh kernel.

``notebooks/NN_*.py`` are jupytext sources; each is converted and executed with
nbclient (``augsleep.notebooks.execute_notebook``) with
``AUGSLEEP_NOTEBOOK_SIZE=quick``. Any cell that raises fails the test, with the
cell and its traceback in the message.
"""

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupytext")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from augsleep import notebooks  # noqa: E402

NOTEBOOKS = notebooks.find_notebooks(Path(__file__).parents[1] / "notebooks")
#: Notebooks that read real data beside the repository (the folder under
#: ``../shared/data`` each needs, or its environment variable).
NEEDS_DATA = {"05_sleep_staging": ("sleep-edf-5s", "AUGSLEEP_SLEEP_EDF_5S")}


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == sorted({p.name[:2] for p in NOTEBOOKS})
    assert len(NOTEBOOKS) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_at_quick_size(path, tmp_path, monkeypatch):
    if path.stem in NEEDS_DATA:
        from conftest import SHARED_DATA

        folder, variable = NEEDS_DATA[path.stem]
        if not (os.environ.get(variable) or (SHARED_DATA / folder).is_dir()):
            pytest.skip(f"{path.name} needs {SHARED_DATA / folder} (or ${variable})")
    # The study notebooks run their pipeline into a fresh folder: records left
    # by an earlier run would be skipped, not computed again.
    monkeypatch.setenv(notebooks.RESULTS_VARIABLE, str(tmp_path))
    notebook = notebooks.execute_notebook(path, "quick", timeout=600)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    # The notebook ran at the quick size it was asked for.
    sizes = [c for c in code if "SIZE = notebook_size()" in c.source]
    assert sizes, f"{path.name} has no size cell"
    # Every notebook shows at least one figure.
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} shows no figure"
    # A study notebook's numbers come from the records of its pipeline run.
    if "run_pipeline(" in jupytext_source(path):
        assert list(tmp_path.glob("*-quick/records/*.json")), "no record written"


def jupytext_source(path):
    return Path(path).read_text()


def test_results_dir_is_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(notebooks.RESULTS_VARIABLE, raising=False)
    assert notebooks.results_dir("layers", "quick") == Path("results/layers-quick")
    monkeypatch.setenv(notebooks.RESULTS_VARIABLE, str(tmp_path))
    assert notebooks.results_dir("layers", "full") == tmp_path / "layers-full"
    assert notebooks.pipeline_path("layers").name == "layers.yml"
    with pytest.raises(FileNotFoundError, match="no-such-study.yml"):
        notebooks.pipeline_path("no-such-study")


def test_kernel_uses_this_interpreter(tmp_path):
    source = tmp_path / "01_probe.py"
    source.write_text(
        "# %%\nimport os, sys\n"
        "import augsleep\n"
        "print(sys.executable)\n"
        "print(os.environ['AUGSLEEP_NOTEBOOK_SIZE'])\n"
        "print(augsleep.__file__)\n"
    )
    notebook = notebooks.execute_notebook(source, "quick", timeout=120)
    lines = notebook.cells[0].outputs[0].text.split()
    assert Path(lines[0]).resolve() == Path(sys.executable).resolve()
    assert lines[1] == "quick"
    import augsleep

    assert Path(lines[2]).resolve() == Path(augsleep.__file__).resolve()


def test_failing_cell_fails_the_run(tmp_path):
    from nbclient.exceptions import CellExecutionError

    source = tmp_path / "01_broken.py"
    source.write_text("# %%\nx = 1\n\n# %%\nraise RuntimeError('cell two broke')\n")
    with pytest.raises(CellExecutionError, match="cell two broke"):
        notebooks.execute_notebook(source, "quick", timeout=120)


def test_size_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv(notebooks.SIZE_VARIABLE, raising=False)
    assert notebooks.notebook_size() == "full"
    monkeypatch.setenv(notebooks.SIZE_VARIABLE, " Quick ")
    assert notebooks.notebook_size() == "quick"
    monkeypatch.setenv(notebooks.SIZE_VARIABLE, "medium")
    with pytest.raises(ValueError, match="AUGSLEEP_NOTEBOOK_SIZE.*'medium'"):
        notebooks.notebook_size()
    with pytest.raises(ValueError, match="size must be one of"):
        notebooks.execute_notebook(NOTEBOOKS[0], "huge")


def test_render_writes_ipynb_and_html(tmp_path):
    import nbformat

    source = tmp_path / "01_plot.py"
    source.write_text(
        "# %% [markdown]\n# # A title\n#\n# | a | b |\n# |---|---|\n# | 1 | 2 |\n\n"
        "# %%\n# %matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "plt.plot([0, 1])\nplt.show()\n"
    )
    written = notebooks.render([source], tmp_path / "out", size="quick")
    assert [p.name for p in written] == ["01_plot.ipynb", "01_plot.html"]
    executed = nbformat.read(written[0], as_version=4)
    assert executed.cells[1].outputs
    page = written[1].read_text()
    assert "<h1>A title</h1>" in page and "<table>" in page
    assert "data:image/png;base64," in page
    assert os.path.getsize(written[1]) > 1000
