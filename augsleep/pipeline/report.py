"""Tables and figures from a run's records: ``augsleep report DIR``.

- ``table.csv`` / ``table.md``: per method, mean +- standard deviation over
  folds (seeds averaged within a fold first) of the test balanced accuracy,
  Cohen's kappa and macro F1, and of the compute time (``compute_time_
  ["total_s"]``, in hours), with the tasks that failed.
- ``points.csv``: every point of every task's curve: compute hours, validation
  and test balanced accuracy, and the test balanced accuracy of the
  best-validated checkpoint so far. A search (``search_history_`` with test
  scores) gives one point per checkpoint; any other method one point, at its
  compute time.
- ``curves.csv``, ``fig6b.png`` (the paper's Fig. 6b): per method, the median
  over folds of the test balanced accuracy of the best-validated checkpoint
  so far against compute hours; every curve starts at t = 0 at the fold's
  score without augmentation (the ``baseline`` method, ``none``), as in the
  paper. ``figB10.png`` adds the 25-75 % band over folds.
- ``figB11.csv`` / ``figB11.png`` (Fig. B.11): per fold, each method's relative
  improvement (%) over the ``reference`` method (ADDA) at a compute budget,
  when the reference ran.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from augsleep.pipeline.config import FIGURES, METRICS
from augsleep.pipeline.records import read_records

#: Column titles of the Markdown table.
_TITLES = {
    "balanced_accuracy": "balanced accuracy",
    "cohen_kappa": "Cohen's kappa",
    "macro_f1": "macro F1",
    "compute_time_h": "compute time (h)",
}
_DEFAULTS = {
    "metrics": list(METRICS),
    "figures": list(FIGURES),
    "baseline": "none",
    "reference": "adda",
    "figB11_budget_hours": None,
}


def _load(out: Path) -> tuple[list[dict], dict, list[str]]:
    """Read the manifest's records (all without one), the settings, the order."""
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        names = [t["record"] for t in manifest["tasks"]]
        records = read_records(out / "records", names)
        return records, {**_DEFAULTS, **manifest["report"]}, manifest["methods"]
    records = read_records(out / "records")
    order = list(dict.fromkeys(r["method"] for r in records))
    return records, dict(_DEFAULTS), order


def _per_fold(ok: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Seeds averaged within each (method, fold)."""
    return ok.groupby(["method", "fold"], sort=False)[columns].mean().reset_index()


def results_table(
    records: list[dict], order: list[str], metrics=METRICS
) -> pd.DataFrame:
    """Mean and standard deviation over folds, per method.

    Parameters
    ----------
    records : list of dict
        Task records.
    order : list of str
        Method labels, in table order.
    metrics : sequence of str
        Test metrics of the table.

    Returns
    -------
    table : DataFrame
        One row per method: ``n_folds``, ``n_ok``, ``n_failed``, then
        ``<metric>_mean``, ``<metric>_std`` (over folds, ddof 1; NaN with a
        single fold) for every metric and for ``compute_time_h``.
    """
    columns = [*metrics, "compute_time_h"]
    rows = []
    for r in records:
        row = {"method": r["method"], "fold": r["fold"], "status": r["status"]}
        if r["status"] == "ok":
            row.update({m: r["metrics"]["test"][m] for m in metrics})
            row["compute_time_h"] = r["compute_time"]["total_s"] / 3600
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["method", "fold", "status", *columns])
    ok = frame[frame["status"] == "ok"]
    folds = _per_fold(ok, columns)
    table = []
    for method in order:
        fm = folds[folds["method"] == method]
        entry = {
            "method": method,
            "n_folds": len(fm),
            "n_ok": int(
                ((frame["method"] == method) & (frame["status"] == "ok")).sum()
            ),
            "n_failed": int(
                ((frame["method"] == method) & (frame["status"] != "ok")).sum()
            ),
        }
        for c in columns:
            values = fm[c].to_numpy(float)
            entry[f"{c}_mean"] = values.mean() if len(values) else np.nan
            entry[f"{c}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        table.append(entry)
    return pd.DataFrame(table)


def _markdown(table: pd.DataFrame, metrics, failures: list[dict]) -> str:
    def cell(row, c, digits):
        mean, std = row[f"{c}_mean"], row[f"{c}_std"]
        if np.isnan(mean):
            return ""
        return f"{mean:.{digits}f}" + ("" if np.isnan(std) else f" ± {std:.{digits}f}")

    columns = [*metrics, "compute_time_h"]
    head = ["method", "folds", *[_TITLES[c] for c in columns], "failed tasks"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, row in table.iterrows():
        cells = [row["method"], str(row["n_folds"])]
        cells += [cell(row, c, 4 if c == "compute_time_h" else 3) for c in columns]
        cells.append(str(row["n_failed"]))
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\nMean ± standard deviation over folds (seeds "
    text += "averaged within a fold) of the test scores; compute time is "
    text += "`compute_time_['total_s']` (search, pretraining and retraining).\n"
    return text + failed_tasks_markdown(failures)


def failed_tasks_markdown(failures: list[dict]) -> str:
    """Return a Markdown section listing failed tasks and their errors ("" if none).

    Parameters
    ----------
    failures : list of dict
        Records whose ``status`` is not ``"ok"``.

    Returns
    -------
    text : str
    """
    if not failures:
        return ""
    text = "\n## Failed tasks\n\n"
    for r in failures:
        error = r.get("error") or {}
        message = (error.get("message") or "").splitlines()
        text += (
            f"- `{r['task_id']}`: {error.get('type')}: "
            f"{message[0] if message else ''} (traceback in the record)\n"
        )
    return text


def record_points(record: dict) -> pd.DataFrame:
    """Return the points of one task's curve.

    Parameters
    ----------
    record : dict
        An ``ok`` task record.

    Returns
    -------
    points : DataFrame
        ``hours``, ``valid_balanced_accuracy``, ``test_balanced_accuracy``,
        ``best_valid_test`` (the test score of the best-validated point so
        far), in time order.
    """
    if record.get("checkpoints"):
        rows = [
            (
                c["total_s"] / 3600,
                c["valid_balanced_accuracy"],
                c["test_balanced_accuracy"],
            )
            for c in record["checkpoints"]
        ]
    else:
        m = record["metrics"]
        rows = [
            (
                record["compute_time"]["total_s"] / 3600,
                m["valid"]["balanced_accuracy"],
                m["test"]["balanced_accuracy"],
            )
        ]
    points = pd.DataFrame(
        rows, columns=["hours", "valid_balanced_accuracy", "test_balanced_accuracy"]
    )
    points = points.sort_values("hours", kind="stable").reset_index(drop=True)
    best_valid, best_test = -np.inf, np.nan
    chosen = []
    for valid, test in zip(
        points["valid_balanced_accuracy"], points["test_balanced_accuracy"], strict=True
    ):
        if (
            valid is not None and valid > best_valid
        ):  # strictly better: the earlier wins
            best_valid, best_test = valid, test
        chosen.append(best_test)
    points["best_valid_test"] = chosen
    return points


def _step_at(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of a right-continuous step function at each grid time (NaN before)."""
    idx = np.searchsorted(times, grid, side="right") - 1
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan)
    return out.astype(float)


def method_curves(points: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Median and quartiles over folds of the best-validated test score vs time.

    Parameters
    ----------
    points : DataFrame
        From :func:`points_table`.
    baseline : str
        Method label whose score starts every other curve at t = 0 (fold by
        fold and seed by seed; its own curve is not drawn).

    Returns
    -------
    curves : DataFrame
        ``method``, ``hours``, ``median``, ``q25``, ``q75``, ``n_folds``; a
        time where some fold has no point yet gives NaN.
    """
    base = points[points["method"] == baseline].groupby(["fold", "seed"])
    start = base["test_balanced_accuracy"].last()
    curves = []
    for method, pm in points[points["method"] != baseline].groupby(
        "method", sort=False
    ):
        grid = np.unique(np.r_[0.0, pm["hours"].to_numpy(float)])
        per_fold = []
        for _fold, pf in pm.groupby("fold"):
            per_seed = []
            for (fold, seed), ps in pf.groupby(["fold", "seed"]):
                times = ps["hours"].to_numpy(float)
                values = ps["best_valid_test"].to_numpy(float)
                if (fold, seed) in start.index:
                    times = np.r_[0.0, times]
                    values = np.r_[start.loc[(fold, seed)], values]
                per_seed.append(_step_at(times, values, grid))
            per_fold.append(np.mean(per_seed, axis=0))
        per_fold = np.array(per_fold)
        complete = ~np.isnan(per_fold).any(axis=0)
        for i, t in enumerate(grid):
            column = per_fold[:, i]
            q25, median, q75 = (
                np.quantile(column, [0.25, 0.5, 0.75]) if complete[i] else [np.nan] * 3
            )
            curves.append(
                {
                    "method": method,
                    "hours": t,
                    "median": median,
                    "q25": q25,
                    "q75": q75,
                    "n_folds": len(column),
                }
            )
    return pd.DataFrame(
        curves, columns=["method", "hours", "median", "q25", "q75", "n_folds"]
    )


def points_table(records: list[dict]) -> pd.DataFrame:
    """Return the points of every ``ok`` record (see :func:`record_points`)."""
    frames = []
    for r in records:
        if r["status"] != "ok":
            continue
        p = record_points(r)
        p.insert(0, "seed", r["seed"])
        p.insert(0, "fold", r["fold"])
        p.insert(0, "method", r["method"])
        frames.append(p)
    columns = [
        "method",
        "fold",
        "seed",
        "hours",
        "valid_balanced_accuracy",
        "test_balanced_accuracy",
        "best_valid_test",
    ]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=columns)
    )


def relative_improvement(
    points: pd.DataFrame, reference: str, budget_hours: float, baseline: str
) -> pd.DataFrame:
    """Per fold, each method's relative improvement (%) over ``reference`` at a budget.

    A method's score at the budget is its best-validated test score among the
    points reached by then (the baseline's score before its first point),
    seeds averaged.

    Returns
    -------
    improvement : DataFrame
        ``method``, ``fold``, ``score``, ``reference_score``,
        ``improvement_pct``.
    """
    start = (
        points[points["method"] == baseline]
        .groupby(["fold", "seed"])["test_balanced_accuracy"]
        .last()
    )
    scores = {}
    for (method, fold, seed), ps in points.groupby(["method", "fold", "seed"]):
        times = ps["hours"].to_numpy(float)
        values = ps["best_valid_test"].to_numpy(float)
        if method != baseline and (fold, seed) in start.index:
            times = np.r_[0.0, times]
            values = np.r_[start.loc[(fold, seed)], values]
        value = _step_at(times, values, np.array([budget_hours]))[0]
        scores.setdefault((method, fold), []).append(value)
    rows = []
    for (method, fold), values in scores.items():
        if method == reference or (reference, fold) not in scores:
            continue
        ref = float(np.mean(scores[(reference, fold)]))
        score = float(np.mean(values))
        rows.append(
            {
                "method": method,
                "fold": fold,
                "score": score,
                "reference_score": ref,
                "improvement_pct": 100 * (score - ref) / ref if ref else np.nan,
            }
        )
    return pd.DataFrame(
        rows, columns=["method", "fold", "score", "reference_score", "improvement_pct"]
    )


def _plot_curves(curves, baseline_score, order, path, bands, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in [m for m in order if m in set(curves["method"])]:
        cm = curves[curves["method"] == method]
        (line,) = ax.step(cm["hours"], cm["median"], where="post", label=method)
        ax.plot(cm["hours"], cm["median"], "o", ms=3, color=line.get_color())
        if bands:
            ax.fill_between(
                cm["hours"],
                cm["q25"],
                cm["q75"],
                step="post",
                alpha=0.2,
                color=line.get_color(),
            )
    if baseline_score is not None:
        ax.axhline(baseline_score, color="k", ls="--", lw=1, label="no augmentation")
    ax.set_xlabel("compute time (hours)")
    ax.set_ylabel("test balanced accuracy\n(median over folds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_improvement(improvement, order, reference, budget, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in order if m in set(improvement["method"])]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * max(len(methods), 1)))
    data = [
        improvement.loc[improvement["method"] == m, "improvement_pct"] for m in methods
    ]
    ax.boxplot(data, orientation="horizontal", tick_labels=methods)
    for i, values in enumerate(data, start=1):
        ax.plot(values, np.full(len(values), i), "o", ms=4, alpha=0.7)
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(
        f"relative improvement over {reference} (%), per fold, at {budget:.3g} h"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_report(out: str | Path, figures: bool = True) -> dict:
    """Rebuild the table and figures of a run from its records.

    Parameters
    ----------
    out : str | Path
        The run's output folder (``records/``, ``manifest.json``).
    figures : bool
        Whether to draw the figures (the CSV files are always written).
        A study run (:mod:`augsleep.pipeline.study`) gets its table only
        (:func:`augsleep.pipeline.study_report.build_study_report`).

    Returns
    -------
    written : dict
        Paths written, by name, and ``notes`` (figures skipped and why).

    Raises
    ------
    FileNotFoundError
        If ``out`` has no records folder.
    """
    out = Path(out)
    if not (out / "records").is_dir():
        raise FileNotFoundError(f"{out} has no records folder: not a pipeline run")
    manifest = out / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("kind") == "study":
        from augsleep.pipeline.study_report import build_study_report

        return build_study_report(out)
    records, settings, order = _load(out)
    report_dir = out / "report"
    report_dir.mkdir(exist_ok=True)
    metrics = settings["metrics"]
    written, notes = {}, []
    table = results_table(records, order, metrics)
    written["table.csv"] = report_dir / "table.csv"
    table.to_csv(written["table.csv"], index=False)
    failures = [r for r in records if r["status"] != "ok"]
    written["table.md"] = report_dir / "table.md"
    written["table.md"].write_text(_markdown(table, metrics, failures))
    points = points_table(records)
    written["points.csv"] = report_dir / "points.csv"
    points.to_csv(written["points.csv"], index=False)
    baseline, reference = settings["baseline"], settings["reference"]
    curves = method_curves(points, baseline)
    written["curves.csv"] = report_dir / "curves.csv"
    curves.to_csv(written["curves.csv"], index=False)
    base = points[points["method"] == baseline]
    base_score = (
        float(base.groupby("fold")["test_balanced_accuracy"].mean().median())
        if len(base)
        else None
    )
    if figures and len(curves):
        for name, bands in (("fig6b", False), ("figB10", True)):
            if name in settings["figures"]:
                path = report_dir / f"{name}.png"
                title = "Fig. 6b" if not bands else "Fig. B.10 (25-75 % over folds)"
                _plot_curves(curves, base_score, order, path, bands, title)
                written[f"{name}.png"] = path
    if "figB11" in settings["figures"]:
        if reference not in set(points["method"]):
            notes.append(
                f"Fig. B.11 skipped: the reference method {reference!r} did not run"
            )
        else:
            budget = settings["figB11_budget_hours"] or float(points["hours"].max())
            improvement = relative_improvement(points, reference, budget, baseline)
            written["figB11.csv"] = report_dir / "figB11.csv"
            improvement.to_csv(written["figB11.csv"], index=False)
            if figures and len(improvement):
                path = report_dir / "figB11.png"
                _plot_improvement(improvement, order, reference, budget, path)
                written["figB11.png"] = path
    written["notes"] = notes
    return written
