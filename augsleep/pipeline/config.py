"""Read and check a pipeline file (YAML), before any training starts.

A pipeline file names the dataset and where it lies, the fold file, the seeds,
the methods of :data:`augsleep.methods.METHODS` with their parameters, and what
to report::

    name: smoke
    dataset:
      loader: mass            # mass | sleep_edf | npz | synthetic_mass
      path: ../data/mass-ss3  # relative to this file's folder
      path_env: AUGSLEEP_MASS_SS3  # optional: this variable, when set, wins
      options: {channels: [C3, C4], sfreq: 100}  # loader arguments
      cache: true             # share the preprocessing cache (OUT/cache)
    folds: {file: ../data/folds/mass-ss3.json, use: [0, 1]}
    seeds: [0]
    common: {max_epochs: 300, patience: 30}  # parameters of every method
    methods:
      none: {}
      augnet: {lam: 10}
      augnet-lam1: {method: augnet, lam: 1}  # a label, another setting
    report:
      figB11_budget_hours: 12
    save_models: true         # each fitted model to OUT/models (default false)
    sizes:                    # overrides selected by load_pipeline(size=...)
      quick: {seeds: [0], common: {max_epochs: 2}}

A file with a ``study`` field is a study pipeline instead (the paper's
synthetic studies), checked by :func:`augsleep.pipeline.study.load_study`.

Every error is a :class:`PipelineError` whose message starts with the file and
the field (``pipelines/x.yml: methods.augnet.lam: ...``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sklearn.utils._param_validation import InvalidParameterError

from augsleep.pipeline.datasets import DATASETS, SYNTHETIC_DEFAULTS, SYNTHETIC_MINIMA
from augsleep.pipeline.folds import Fold, FoldError, load_folds

#: Estimator parameters the pipeline sets from the data and the seeds.
RESERVED_PARAMS = ("sfreq", "ch_names", "positions", "random_state", "verbose")
#: Metrics of the table (``report.metrics``), by name.
METRICS = ("balanced_accuracy", "cohen_kappa", "macro_f1")
#: Figures (``report.figures``).
FIGURES = ("fig6b", "figB10", "figB11")
_TOP_LEVEL = (
    "name",
    "description",
    "dataset",
    "folds",
    "seeds",
    "common",
    "methods",
    "report",
    "save_models",
    "sizes",
)
_DATASET_KEYS = ("name", "loader", "path", "path_env", "options", "cache", "synthetic")
_REPORT_DEFAULTS = {
    "metrics": list(METRICS),
    "figures": list(FIGURES),
    "baseline": "none",
    "reference": "adda",
    "figB11_budget_hours": None,
}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class PipelineError(ValueError):
    """A pipeline file that cannot run; the message names the file and field."""


@dataclass(frozen=True)
class MethodSpec:
    """A method of the pipeline: its label, :data:`METHODS` name and parameters."""

    label: str
    name: str
    params: dict


@dataclass
class Pipeline:
    """A checked pipeline file (see :func:`load_pipeline`)."""

    path: Path
    name: str
    dataset: dict
    folds: list[Fold]
    folds_file: Path
    methods: list[MethodSpec]
    seeds: list[int]
    report: dict
    raw: dict = field(repr=False)
    save_models: bool = False
    size: str = "full"
    kind: str = "sleep"


def load_pipeline(
    path: str | Path,
    data_dir: str | Path | None = None,
    check_data: bool = True,
    size: str = "full",
):
    """Read a pipeline file and check every field.

    A file with a ``study`` field is a study pipeline (the paper's synthetic
    studies, :mod:`augsleep.pipeline.study`); any other is a sleep pipeline.

    Parameters
    ----------
    path : str | Path
        The YAML file.
    data_dir : str | Path | None
        Dataset folder overriding ``dataset.path`` (and ``dataset.path_env``).
    check_data : bool
        Whether to list the dataset's subjects, so that a missing folder or a
        fold naming an unknown subject is an error now (``synthetic_mass``
        checks against the subjects it will write).
    size : str
        ``"full"``: the file as written; any other name applies the file's
        ``sizes.<size>`` section first (see :func:`apply_size`).

    Returns
    -------
    pipeline : Pipeline | StudyPipeline

    Raises
    ------
    PipelineError
        Naming the file and the field: bad YAML, an unknown field, an unknown
        dataset loader or loader option, a missing data folder, a bad fold
        file or a fold naming a subject the dataset does not have, an unknown
        method or method parameter, a parameter value the estimator refuses,
        bad seeds, an unknown size.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PipelineError(f"pipeline file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: cannot read the file: {err}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = (
            "" if mark is None else f" (line {mark.line + 1}, column {mark.column + 1})"
        )
        problem = getattr(err, "problem", None) or str(err)
        raise PipelineError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: expected a mapping of fields {list(_TOP_LEVEL)}")
    raw = apply_size(raw, size, path)
    if "study" in raw:
        from augsleep.pipeline.study import load_study

        return load_study(path, raw, size)
    _check_keys(raw, _TOP_LEVEL, path, "")
    for required in ("dataset", "folds", "methods"):
        if required not in raw:
            raise PipelineError(f"{path}: {required}: missing")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _LABEL.match(name):
        raise PipelineError(f"{path}: name: must be a short name, got {name!r}")
    dataset = _dataset(raw["dataset"], path, data_dir)
    available = _available_subjects(dataset, path) if check_data else None
    folds, folds_file = _folds(raw["folds"], path, available)
    seeds = _seeds(raw.get("seeds", [0]), path)
    methods = _methods(raw["methods"], raw.get("common") or {}, path)
    report = _report(raw.get("report") or {}, path)
    save_models = raw.get("save_models", False)
    if not isinstance(save_models, bool):
        raise PipelineError(f"{path}: save_models: must be true or false")
    return Pipeline(
        path=path.resolve(),
        name=name,
        dataset=dataset,
        folds=folds,
        folds_file=folds_file,
        methods=methods,
        seeds=seeds,
        report=report,
        raw=raw,
        save_models=save_models,
        size=size,
    )


def _merge(base, override):
    """Merge mappings key by key (recursively); replace any other value."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if key in base else value
    return merged


def apply_size(raw: dict, size: str, path: Path) -> dict:
    """Apply a pipeline file's ``sizes.<size>`` section to its fields.

    ``sizes`` maps size names to overrides of the file's fields, e.g. ``sizes:
    {quick: {seeds: [0], common: {n_epochs: 2}}}``: mappings are merged key by
    key (recursively), any other value (a list, a number) replaces the file's.
    ``"full"`` is the file as written.

    Parameters
    ----------
    raw : dict
        The file's content.
    size : str
        The size to apply.
    path : Path
        The file (for the messages).

    Returns
    -------
    raw : dict
        The content at that size, without ``sizes``.
    """
    sizes = raw.get("sizes") or {}
    if not isinstance(sizes, dict):
        raise PipelineError(f"{path}: sizes: expected a mapping of size names")
    if "full" in sizes:
        raise PipelineError(
            f"{path}: sizes.full: reserved for the file as written (no override)"
        )
    for name, override in sizes.items():
        if not isinstance(override, dict):
            raise PipelineError(f"{path}: sizes.{name}: expected a mapping of fields")
        if "sizes" in override or "name" in override:
            key = "sizes" if "sizes" in override else "name"
            raise PipelineError(f"{path}: sizes.{name}.{key}: cannot be overridden")
    if not isinstance(size, str) or (size != "full" and size not in sizes):
        raise PipelineError(
            f"{path}: sizes: no size {size!r} (sizes: {['full', *sizes]})"
        )
    rest = {k: v for k, v in raw.items() if k != "sizes"}
    return rest if size == "full" else _merge(rest, sizes[size])


def _check_keys(mapping: dict, allowed, path: Path, where: str) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        field_ = f"{where}.{unknown[0]}" if where else str(unknown[0])
        raise PipelineError(
            f"{path}: {field_}: unknown field (expected one of {list(allowed)})"
        )


def _resolve(value: str, path: Path) -> Path:
    resolved = Path(os.path.expanduser(os.path.expandvars(value)))
    return resolved if resolved.is_absolute() else (path.parent / resolved).resolve()


def _dataset(spec, path: Path, data_dir) -> dict:
    if not isinstance(spec, dict):
        raise PipelineError(f"{path}: dataset: expected a mapping")
    _check_keys(spec, _DATASET_KEYS, path, "dataset")
    loader = spec.get("loader")
    if loader not in DATASETS:
        raise PipelineError(
            f"{path}: dataset.loader: unknown loader {loader!r} "
            f"(available: {sorted(DATASETS)})"
        )
    kind = DATASETS[loader]
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise PipelineError(f"{path}: dataset.options: expected a mapping")
    for key in options:
        if key not in kind.options:
            raise PipelineError(
                f"{path}: dataset.options.{key}: not an option of the {loader!r} "
                f"loader (options: {sorted(kind.options)})"
            )
    cache = spec.get("cache", True)
    if not isinstance(cache, bool):
        raise PipelineError(f"{path}: dataset.cache: must be true or false")
    synthetic = None
    if loader == "synthetic_mass":
        given = spec.get("synthetic") or {}
        if not isinstance(given, dict):
            raise PipelineError(f"{path}: dataset.synthetic: expected a mapping")
        _check_keys(given, SYNTHETIC_DEFAULTS, path, "dataset.synthetic")
        synthetic = {**SYNTHETIC_DEFAULTS, **given}
        for key, value in synthetic.items():
            low = SYNTHETIC_MINIMA[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise PipelineError(
                    f"{path}: dataset.synthetic.{key}: must be an integer >= {low}, "
                    f"got {value!r}"
                )
    elif "synthetic" in spec:
        raise PipelineError(
            f"{path}: dataset.synthetic: only for the 'synthetic_mass' loader"
        )
    source = "dataset.path"
    value = spec.get("path")
    env = spec.get("path_env")
    if env is not None and (not isinstance(env, str) or not env):
        raise PipelineError(f"{path}: dataset.path_env: must be a variable name")
    if data_dir is not None:
        value, source = str(data_dir), "--data-dir"
    elif env and os.environ.get(env):
        value, source = os.environ[env], f"${env} (dataset.path_env)"
    if value is None and loader != "synthetic_mass":
        raise PipelineError(f"{path}: dataset.path: missing")
    if value is not None and not isinstance(value, str):
        raise PipelineError(f"{path}: dataset.path: must be a path, got {value!r}")
    resolved = None if value is None else str(_resolve(value, path))
    return {
        "name": str(spec.get("name", loader)),
        "loader": loader,
        "path": resolved,
        "path_source": source,
        "options": options,
        "cache": cache,
        "synthetic": synthetic,
    }


def _available_subjects(dataset: dict, path: Path) -> list[int] | None:
    if dataset["loader"] == "synthetic_mass":
        return list(range(1, dataset["synthetic"]["n_subjects"] + 1))
    folder = Path(dataset["path"])
    if not folder.exists():
        raise PipelineError(
            f"{path}: {dataset['path_source']}: data folder not found: {folder} "
            "(see data/README.md for where the dataset comes from)"
        )
    try:
        return DATASETS[dataset["loader"]].list_subjects(folder)
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path}: {dataset['path_source']}: {err}") from None


def _folds(spec, path: Path, available) -> tuple[list[Fold], Path]:
    if isinstance(spec, str):
        spec = {"file": spec}
    if not isinstance(spec, dict) or "file" not in spec:
        raise PipelineError(f"{path}: folds: expected a fold file or {{file, use}}")
    _check_keys(spec, ("file", "use"), path, "folds")
    if not isinstance(spec["file"], str):
        raise PipelineError(f"{path}: folds.file: must be a path")
    folds_file = _resolve(spec["file"], path)
    try:
        folds = load_folds(folds_file, available)
    except FoldError as err:
        raise PipelineError(f"{path}: folds.file: {err}") from None
    use = spec.get("use")
    if use is not None:
        if (
            not isinstance(use, list)
            or not use
            or any(not isinstance(i, int) or not 0 <= i < len(folds) for i in use)
            or len(set(use)) != len(use)
        ):
            raise PipelineError(
                f"{path}: folds.use: must list distinct fold indices in "
                f"[0, {len(folds) - 1}], got {use!r}"
            )
        folds = [folds[i] for i in use]
    return folds, folds_file


def _seeds(value, path: Path, where: str = "seeds") -> list[int]:
    seeds = [value] if isinstance(value, int) else value
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise PipelineError(
            f"{path}: {where}: must be distinct integers >= 0, got {value!r}"
        )
    return seeds


def _methods(spec, common, path: Path) -> list[MethodSpec]:
    from augsleep.methods import METHODS

    if not isinstance(spec, dict) or not spec:
        raise PipelineError(f"{path}: methods: expected a non-empty mapping")
    if not isinstance(common, dict):
        raise PipelineError(f"{path}: common: expected a mapping of parameters")
    methods = []
    for label, params in spec.items():
        where = f"methods.{label}"
        if not isinstance(label, str) or not _LABEL.match(label):
            raise PipelineError(f"{path}: {where}: bad method label {label!r}")
        if params is not None and not isinstance(params, dict):
            raise PipelineError(f"{path}: {where}: expected a mapping of parameters")
        params = dict(params or {})
        name = params.pop("method", label)
        if name not in METHODS:
            raise PipelineError(
                f"{path}: {where}: unknown method {name!r} (available: "
                f"{sorted(METHODS)})"
            )
        cls = METHODS[name]
        accepted = set(cls().get_params(deep=False))
        for source, given in (("common", common), (where, params)):
            for key in given:
                if key in RESERVED_PARAMS:
                    raise PipelineError(
                        f"{path}: {source}.{key}: set by the pipeline (from the "
                        "data and the seeds), not in the file"
                    )
                if key not in accepted:
                    raise PipelineError(
                        f"{path}: {source}.{key}: not a parameter of {cls.__name__} "
                        f"(method {name!r}; parameters: {sorted(accepted)})"
                    )
        merged = {**common, **params}
        try:
            cls(**merged)._validate_params()
        except InvalidParameterError as err:
            raise PipelineError(f"{path}: {where}: {err}") from None
        methods.append(MethodSpec(label, name, merged))
    return methods


def _report(spec, path: Path) -> dict:
    if not isinstance(spec, dict):
        raise PipelineError(f"{path}: report: expected a mapping")
    _check_keys(spec, _REPORT_DEFAULTS, path, "report")
    report = {**_REPORT_DEFAULTS, **spec}
    for key, known in (("metrics", METRICS), ("figures", FIGURES)):
        value = report[key]
        if not isinstance(value, list) or any(v not in known for v in value):
            raise PipelineError(
                f"{path}: report.{key}: must list some of {list(known)}, got {value!r}"
            )
    budget = report["figB11_budget_hours"]
    if budget is not None and (
        not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0
    ):
        raise PipelineError(
            f"{path}: report.figB11_budget_hours: must be a positive number or null"
        )
    for key in ("baseline", "reference"):
        if not isinstance(report[key], str):
            raise PipelineError(f"{path}: report.{key}: must be a method label")
    return report
