"""Execute and render the study notebooks of ``notebooks/``.

The notebooks are jupytext percent-format ``.py`` sources (no outputs in git).
Each runs at two sizes, chosen by the environment variable
``AUGSLEEP_NOTEBOOK_SIZE``: ``full`` (the study, the default when a person runs
a notebook) or ``quick`` (a few seconds per model, what CI executes). This
module executes them in a fresh kernel with :mod:`nbclient` and writes the
executed notebooks, plus a self-contained HTML page each for reading::

    python -m augsleep.notebooks render --size full --out notebooks-html

nbconvert is not a dependency: the HTML is written here from the executed
notebook (markdown through markdown-it-py, which jupytext requires; figures
embedded as PNG). The executed ``.ipynb`` files open in Jupyter, VS Code or on
GitHub.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path

#: The environment variable that selects a notebook's size.
SIZE_VARIABLE = "AUGSLEEP_NOTEBOOK_SIZE"
#: The environment variable naming the folder of the studies' pipeline runs.
RESULTS_VARIABLE = "AUGSLEEP_NOTEBOOK_RESULTS"
#: The sizes every notebook runs at.
SIZES = ("quick", "full")


def notebook_size(default: str = "full") -> str:
    """Read the size a notebook runs at from ``AUGSLEEP_NOTEBOOK_SIZE``.

    Parameters
    ----------
    default : {"quick", "full"}
        Size when the variable is unset or empty.

    Returns
    -------
    size : {"quick", "full"}
    """
    size = os.environ.get(SIZE_VARIABLE, "").strip().lower() or default
    if size not in SIZES:
        value = os.environ[SIZE_VARIABLE]
        raise ValueError(f"{SIZE_VARIABLE} must be one of {SIZES}, got {value!r}.")
    return size


def results_dir(study: str, size: str) -> Path:
    """Return the folder a study notebook runs its pipeline into.

    ``<results>/<study>-<size>``, where ``<results>`` is
    ``$AUGSLEEP_NOTEBOOK_RESULTS`` when set (the tests point it at a fresh
    folder) and otherwise ``results`` in the notebook's folder (ignored by
    git). A rerun of the notebook skips the tasks whose record is there.

    Parameters
    ----------
    study : str
        The pipeline's name, e.g. ``"sinusoids"``.
    size : str
        The size it runs at.

    Returns
    -------
    folder : Path
    """
    root = os.environ.get(RESULTS_VARIABLE, "").strip() or "results"
    return Path(root) / f"{study}-{size}"


def pipeline_path(name: str) -> Path:
    """Return the repository's pipeline file ``pipelines/<name>.yml``.

    Parameters
    ----------
    name : str
        E.g. ``"sinusoids"``.

    Returns
    -------
    path : Path
    """
    path = _package_root() / "pipelines" / f"{name}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"No pipeline file {path}.")
    return path


def _package_root() -> Path:
    """Return the folder that holds the ``augsleep`` package being run."""
    return Path(__file__).resolve().parents[1]


def find_notebooks(folder: str | Path | None = None) -> list[Path]:
    """List the notebook sources, in reading order.

    Parameters
    ----------
    folder : str | Path | None
        Folder of the sources; ``None`` is ``notebooks/`` beside the package
        (the repository's).

    Returns
    -------
    paths : list of Path
        The ``NN_*.py`` files of ``folder``, sorted.
    """
    folder = _package_root() / "notebooks" if folder is None else Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No notebooks folder at {folder}.")
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py") if p.is_file())


def execute_notebook(
    path: str | Path,
    size: str = "quick",
    *,
    timeout: int = 3600,
    kernel_name: str = "python3",
):
    """Execute a percent-format notebook in a fresh kernel.

    The kernel runs in the notebook's folder, with ``AUGSLEEP_NOTEBOOK_SIZE`` set
    to ``size`` and the folder holding this ``augsleep`` package first on
    ``PYTHONPATH``, so that it imports the same code as the caller. Jupyter
    starts the ``python3`` kernel with the caller's interpreter
    (``sys.executable``).

    Parameters
    ----------
    path : str | Path
        The jupytext ``.py`` source.
    size : {"quick", "full"}
        The size the notebook runs at.
    timeout : int
        Seconds one cell may run.
    kernel_name : str
        Jupyter kernel to start.

    Returns
    -------
    notebook : nbformat.NotebookNode
        The executed notebook, with its outputs.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        If a cell raises; the message names the cell and the error.
    """
    import jupytext
    from nbclient import NotebookClient

    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}.")
    path = Path(path)
    notebook = jupytext.read(path)
    env = dict(os.environ)
    env[SIZE_VARIABLE] = size
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_package_root()), env.get("PYTHONPATH", "")) if p
    )
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.execute(env=env)
    return notebook


def _output_html(output) -> str:
    """One cell output as HTML: the richest format it has."""
    if output.output_type == "stream":
        return f'<pre class="stream">{html.escape(output.text)}</pre>'
    if output.output_type == "error":
        return f'<pre class="error">{html.escape(chr(10).join(output.traceback))}</pre>'
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{data["image/png"].strip()}">'
    if "text/html" in data:
        return f'<div class="html">{data["text/html"]}</div>'
    if "text/markdown" in data:
        return _markdown(data["text/markdown"])
    if "text/plain" in data:
        return f"<pre>{html.escape(data['text/plain'])}</pre>"
    return ""


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(text)


_STYLE = """
body { max-width: 60em; margin: 2em auto; font-family: sans-serif; line-height: 1.45; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
pre.source { border-left: 3px solid #8ab; }
pre.error { background: #fdd; }
img { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
"""


def notebook_to_html(notebook, title: str) -> str:
    """Write an executed notebook as one self-contained HTML page.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed notebook.
    title : str
        Title of the page.

    Returns
    -------
    page : str
        HTML with the markdown, the code and its outputs (figures embedded).
    """
    parts = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(_markdown(cell.source))
        elif cell.cell_type == "code":
            parts.append(f'<pre class="source">{html.escape(cell.source)}</pre>')
            parts.extend(_output_html(o) for o in cell.get("outputs", []))
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{chr(10).join(parts)}\n</body></html>\n"
    )


def render(
    paths, out_dir: str | Path, size: str = "full", *, timeout: int = 3600
) -> list[Path]:
    """Execute notebooks and write each as ``.ipynb`` and ``.html``.

    Parameters
    ----------
    paths : sequence of str | Path
        The jupytext sources.
    out_dir : str | Path
        Output folder (created if needed).
    size : {"quick", "full"}
        The size the notebooks run at.
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    written : list of Path
        The files written, two per notebook. A notebook that fails stops the
        run; those finished before it are kept.
    """
    import nbformat

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, paths):
        start = time.perf_counter()
        print(f"Executing {path} ({size}) ...", flush=True)
        notebook = execute_notebook(path, size, timeout=timeout)
        ipynb = out_dir / f"{path.stem}.ipynb"
        nbformat.write(notebook, ipynb)
        page = out_dir / f"{path.stem}.html"
        page.write_text(notebook_to_html(notebook, path.stem), encoding="utf-8")
        written += [ipynb, page]
        print(
            f"  wrote {ipynb} and {page} in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    return written


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m augsleep.notebooks render [options] [NOTEBOOK ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m augsleep.notebooks",
        description="Execute the study notebooks and write them as .ipynb and .html.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="execute notebooks, write .ipynb and .html")
    cmd.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="jupytext sources (default: every notebooks/NN_*.py)",
    )
    cmd.add_argument("--size", choices=SIZES, default="full")
    cmd.add_argument("--out", type=Path, default=Path("notebooks-html"))
    cmd.add_argument(
        "--timeout", type=int, default=3600, help="seconds one cell may run"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or find_notebooks()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(map(str, missing))}")
    render(paths, args.out, args.size, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
