"""A study run's records as tables: ``augsleep report DIR`` and the notebooks.

- :func:`read_study`: the records of a study run, in the manifest's order
  (what the study notebooks read);
- :func:`study_table`: per setting, the test accuracy at each C (mean and
  standard deviation over seeds, draws averaged within a seed), the
  invariance to each probe at each C (median and 75 % interval of the scores
  of every test window of every seed, pooled), and what each augmentation
  layer selected, seed by seed;
- :func:`build_study_report`: ``table.csv`` and ``table.md`` in
  ``OUT/report``. The sleep figures (Fig. 6b, B.10, B.11) need folds and
  compute curves: they are skipped, with a note.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from augsleep.pipeline.records import read_record, read_records
from augsleep.pipeline.report import failed_tasks_markdown


def _manifest(out: Path) -> dict:
    path = out / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{out} has no manifest.json: not a pipeline run")
    return json.loads(path.read_text())


def read_study(out: str | Path, allow_missing: bool = False) -> list[dict]:
    """Read the records of a study run, in the order of its manifest.

    Parameters
    ----------
    out : str | Path
        The run's output folder.
    allow_missing : bool
        Whether tasks without a record (not run yet) or failed are skipped;
        by default they raise.

    Returns
    -------
    records : list of dict
        The ``ok`` records.

    Raises
    ------
    ValueError
        If the folder is not a study run, or (without ``allow_missing``) a
        task has no record or failed (naming it and its error).
    """
    out = Path(out)
    manifest = _manifest(out)
    if manifest.get("kind") != "study":
        raise ValueError(f"{out}: not the run of a study pipeline")
    ordered, problems = [], []
    for name in (t["record"] for t in manifest["tasks"]):
        path = out / "records" / name
        record = read_record(path) if path.exists() else None
        if record is None:
            problems.append(f"{name}: no record (not run yet)")
        elif record["status"] != "ok":
            error = record.get("error") or {}
            problems.append(
                f"{record['task_id']}: failed: {error.get('type')}: "
                f"{error.get('message')}"
            )
        else:
            ordered.append(record)
    if problems and not allow_missing:
        raise ValueError(f"{out}: " + "; ".join(problems))
    return ordered


def accuracy_frame(records: list[dict]) -> pd.DataFrame:
    """Test accuracies: one row per record, C and draw.

    Returns
    -------
    frame : DataFrame
        Columns ``setting``, ``seed``, ``copies``, ``draw``, ``accuracy``.
    """
    rows = [
        {"setting": r["setting"], "seed": r["seed"], **a}
        for r in records
        for a in r["test_accuracy"]
    ]
    return pd.DataFrame(rows, columns=["setting", "seed", "copies", "draw", "accuracy"])


def selected_frame(records: list[dict]) -> pd.DataFrame:
    """Tabulate what each augmentation layer selected, per record and layer.

    Returns
    -------
    frame : DataFrame
        Columns ``setting``, ``seed``, ``layer``, ``transform``, ``weight``,
        ``magnitude``, ``physical_value``, ``unit``, ``w_mu_norm``.
    """
    rows = [
        {"setting": r["setting"], "seed": r["seed"], **s}
        for r in records
        for s in r.get("selected") or []
    ]
    columns = ["setting", "seed", "layer", "transform", "weight", "magnitude"]
    return pd.DataFrame(rows, columns=[*columns, "physical_value", "unit", "w_mu_norm"])


def pooled_invariance(records: list[dict]) -> pd.DataFrame:
    """Invariance per setting, probe and C, scores of every seed pooled.

    Returns
    -------
    frame : DataFrame
        Columns ``setting``, ``probe``, ``copies``, ``n_seeds``, ``median``,
        ``q12.5``, ``q87.5`` (the 75 % interval) over the pooled scores.
    """
    pooled: dict = {}
    for r in records:
        for inv in r.get("invariance") or []:
            key = (r["setting"], inv["probe"], inv["copies"])
            pooled.setdefault(key, []).append(np.asarray(inv["scores"], float))
    rows = []
    for (setting, probe, copies), parts in pooled.items():
        scores = np.concatenate(parts)
        rows.append(
            {
                "setting": setting,
                "probe": probe,
                "copies": copies,
                "n_seeds": len(parts),
                "median": float(np.median(scores)),
                "q12.5": float(np.quantile(scores, 0.125)),
                "q87.5": float(np.quantile(scores, 0.875)),
            }
        )
    columns = ["setting", "probe", "copies", "n_seeds", "median", "q12.5", "q87.5"]
    return pd.DataFrame(rows, columns=columns)


def study_table(records: list[dict], order: list[str]) -> pd.DataFrame:
    """One row per setting: seeds, accuracy at each C, invariance, selections.

    Parameters
    ----------
    records : list of dict
        Records of a study run (failed ones are counted, not used).
    order : list of str
        Setting labels, in table order.

    Returns
    -------
    table : DataFrame
        ``setting``, ``n_ok``, ``n_failed``, then ``accuracy_C<c>_mean`` and
        ``_std`` (over seeds) for every C, ``invariance_<probe>_C<c>`` (pooled
        median) with ``_q12.5`` and ``_q87.5`` for every probe and C, and
        ``selected`` (per layer, how many seeds selected each transform).
    """
    ok = [r for r in records if r["status"] == "ok"]
    accuracy = accuracy_frame(ok)
    per_seed = accuracy.groupby(["setting", "copies", "seed"])["accuracy"].mean()
    invariance = pooled_invariance(ok)
    selected = selected_frame(ok)
    table = []
    for setting in order:
        entry = {
            "setting": setting,
            "n_ok": sum(r["method"] == setting for r in ok),
            "n_failed": sum(
                r["method"] == setting and r["status"] != "ok" for r in records
            ),
        }
        if setting in per_seed.index.get_level_values("setting"):
            for copies, values in per_seed.loc[setting].groupby(level="copies"):
                entry[f"accuracy_C{copies}_mean"] = float(values.mean())
                entry[f"accuracy_C{copies}_std"] = (
                    float(values.std(ddof=1)) if len(values) > 1 else np.nan
                )
        for _, row in invariance[invariance["setting"] == setting].iterrows():
            column = f"invariance_{row['probe']}_C{row['copies']}"
            entry[column] = row["median"]
            entry[f"{column}_q12.5"] = row["q12.5"]
            entry[f"{column}_q87.5"] = row["q87.5"]
        mine = selected[selected["setting"] == setting]
        layers = []
        for layer, part in mine.groupby("layer"):
            counts = Counter(part["transform"])
            text = ", ".join(f"{t} x{n}" for t, n in counts.most_common())
            layers.append(text if mine["layer"].nunique() == 1 else f"{layer}: {text}")
        entry["selected"] = "; ".join(layers)
        table.append(entry)
    table = pd.DataFrame(table)
    # Accuracy columns in increasing C (settings may list different C).
    copies = sorted({int(c) for c in accuracy["copies"]})
    ordered = [f"accuracy_C{c}_{s}" for c in copies for s in ("mean", "std")]
    rest = [c for c in table.columns if c not in ordered]
    return table[[*rest[:3], *[c for c in ordered if c in table], *rest[3:]]]


def _markdown(table: pd.DataFrame, records: list[dict], manifest: dict) -> str:
    columns = ["setting", "seeds"]
    accuracy = [c for c in table.columns if c.startswith("accuracy_") and "_mean" in c]
    invariance = [
        c
        for c in table.columns
        if c.startswith("invariance_") and not c.endswith(("_q12.5", "_q87.5"))
    ]
    head = [
        *columns,
        *[f"accuracy C={c[len('accuracy_C') : -len('_mean')]}" for c in accuracy],
        *[
            "invariance {} C={}".format(*c[len("invariance_") :].rsplit("_C", 1))
            for c in invariance
        ],
        "selected (seeds)",
        "failed tasks",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, row in table.iterrows():
        cells = [row["setting"], str(row["n_ok"])]
        for c in accuracy:
            mean, std = row[c], row[c.replace("_mean", "_std")]
            cells.append(
                ""
                if pd.isna(mean)
                else f"{mean:.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}")
            )
        for c in invariance:
            value = row[c]
            cells.append(
                ""
                if pd.isna(value)
                else f"{value:.3f} [{row[c + '_q12.5']:.3f}, {row[c + '_q87.5']:.3f}]"
            )
        cells += [row["selected"] or "", str(row["n_failed"])]
        lines.append("| " + " | ".join(cells) + " |")
    size = manifest.get("size", "full")
    text = f"Study `{manifest.get('pipeline')}` ({manifest.get('study')}, size "
    text += f"{size}).\n\n" + "\n".join(lines)
    text += (
        "\n\nAccuracy: mean ± standard deviation over seeds of the test accuracy "
        "with C copies (draws averaged within a seed). Invariance (Eq. 4): median "
        "[12.5 %, 87.5 %] of the scores of every test window of every seed. "
        "Selected: per augmentation layer, the transform of largest weight and "
        "in how many seeds.\n"
    )
    failures = [r for r in records if r["status"] != "ok"]
    return text + failed_tasks_markdown(failures)


def build_study_report(out: str | Path) -> dict:
    """Write a study run's ``table.csv`` and ``table.md`` into ``OUT/report``.

    Parameters
    ----------
    out : str | Path
        The run's output folder.

    Returns
    -------
    written : dict
        Paths written, by name, and ``notes`` (what was skipped and why).
    """
    out = Path(out)
    manifest = _manifest(out)
    names = [t["record"] for t in manifest["tasks"]]
    records = read_records(out / "records", names)
    report_dir = out / "report"
    report_dir.mkdir(exist_ok=True)
    table = study_table(records, manifest["methods"])
    written = {
        "table.csv": report_dir / "table.csv",
        "table.md": report_dir / "table.md",
    }
    table.to_csv(written["table.csv"], index=False)
    written["table.md"].write_text(_markdown(table, records, manifest))
    notes = [
        "Figs. 6b, B.10 and B.11 skipped: a study pipeline has no sleep folds or "
        "compute curves (its notebook draws its figures from the records)"
    ]
    missing = len(names) - len(records)
    if missing:
        notes.append(f"{missing} of {len(names)} tasks have no record yet")
    written["notes"] = notes
    return written
