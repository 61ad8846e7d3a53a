"""Study pipelines: the paper's synthetic studies as settings x seeds.

A pipeline file with ``study: sinusoids`` describes trainings of
:func:`augsleep.demo.train_sinusoid_model` on the sinusoids of
:func:`augsleep.data.sinusoids.make_sinusoids` (the paper's Sections 4.2 and
4.3, Appendix B) instead of sleep datasets x folds x methods::

    name: capacity
    study: sinusoids
    data: {n_train: 400, n_test: 200}     # make_sinusoids' arguments
    seeds: [0, 1, 2]
    trunks:                               # named trunks, used by the settings
      mlp-1x2: {name: mlp, n_layers: 1, width: 2}
    common: {n_epochs: 50}                # fields of every setting
    settings:
      mlp-1x2-baseline: {trunk: mlp-1x2, augment: false}
      mlp-1x2-augnet:
        trunk: mlp-1x2
        transforms: [frequency_shift]
        lam: 0.8
        copies: [1, 4, 10]                # C of the test accuracy
        invariance:                       # Eq. 4, at each C
          true-shift: {transform: frequency_shift, max_value: 0.5, magnitude: 1}
    use: [mlp-1x2-augnet]                 # optional: the settings to run

Seed ``s`` of a task draws its training data (``random_state=s``), its test
data (``s + 1``), the trunk's initialisation, the batches and the training
augmentations (``train_sinusoid_model(random_state=s)``), as the notebooks and
``augsleep demo --seed s`` do; evaluation draw ``k`` (of ``draws``) predicts
with the generator ``make_generator(s + k)``, and the invariance is measured
with draw 0 and the pairing seed ``s``.

Every error is a :class:`~augsleep.pipeline.config.PipelineError` naming the
file and the field, raised before any training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

#: Studies a pipeline file can name (``study:``).
STUDIES = ("sinusoids",)
#: Top-level fields of a study pipeline file.
STUDY_FIELDS = (
    "name",
    "description",
    "study",
    "data",
    "seeds",
    "trunks",
    "common",
    "settings",
    "use",
    "sizes",
)
#: Arguments of :func:`make_sinusoids` a file may set, and their defaults.
DATA_DEFAULTS = {
    "n_train": 400,
    "n_test": 200,
    "delta_f": 0.5,
    "noise_std": 0.5,
    "amplitude": 1.0,
    "duration": 10.0,
}
#: Sampling frequency of the sinusoids (that of ``train_sinusoid_model``).
SFREQ = 100.0
#: Trunks by name, with their fields and defaults.
TRUNKS = {"sinusoid_cnn": {}, "mlp": {"n_layers": 1, "width": 2}}
#: Fields of a setting (after ``common``) and their defaults.
SETTING_DEFAULTS = {
    "trunk": {"name": "sinusoid_cnn"},
    "augment": True,
    "transforms": None,  # None: SINUSOID_TRANSFORMS
    "augmentation_layers": 1,
    "transform_params": {},
    "regularizer": "augnet",
    "lam": 0.2,
    "initial_magnitude": 0.0,
    "temperature": 0.01,
    "n_epochs": 50,
    "batch_size": 32,
    "lr": 1e-2,
    "weight_decay": 1e-4,
    "oracle": None,
    "copies": [1],
    "draws": 1,
    "invariance": {},
    "step_trace_epochs": 0,
    "seeds": None,
}
#: Fields of an ``oracle`` augmentation besides the transform's parameters.
_ORACLE_FIELDS = {"transform": None, "probability": 0.5, "magnitude": 1.0}
#: Fields of an invariance probe besides the transform's parameters.
_PROBE_FIELDS = {"transform": None, "magnitude": 1.0}


def _error(path, where, message):
    from augsleep.pipeline.config import PipelineError

    return PipelineError(f"{path}: {where}: {message}")


@dataclass(frozen=True)
class SettingSpec:
    """A setting of a study: its label and checked fields (trunk inlined)."""

    label: str
    params: dict
    seeds: tuple


@dataclass
class StudyPipeline:
    """A checked study pipeline file (see :func:`load_study`)."""

    path: Path
    name: str
    study: str
    data: dict
    settings: list[SettingSpec]
    seeds: list[int]
    raw: dict = field(repr=False)
    size: str = "full"
    kind: str = "study"


def _number(value, path, where, low=None, high=None, strict_low=False, integer=False):
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int)
    if ok:
        ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if strict_low else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if strict_low else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        text = f"{kind} {' and '.join(bounds)}".strip()
        raise _error(path, where, f"must be {text}, got {value!r}")
    return value


def _mapping(value, path, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _error(path, where, f"expected a mapping, got {value!r}")
    return value


def _check_keys(mapping, allowed, path, where):
    for key in mapping:
        if key not in allowed:
            raise _error(
                path,
                f"{where}.{key}",
                f"unknown field (expected one of {list(allowed)})",
            )


def _data(spec, path) -> dict:
    spec = _mapping(spec, path, "data")
    _check_keys(spec, DATA_DEFAULTS, path, "data")
    data = {**DATA_DEFAULTS, **spec}
    for key in ("n_train", "n_test"):
        _number(data[key], path, f"data.{key}", low=2, integer=True)
    for key in ("delta_f", "noise_std", "amplitude"):
        _number(data[key], path, f"data.{key}", low=0)
    _number(data["duration"], path, "data.duration", low=0, strict_low=True)
    if round(data["duration"] * SFREQ) < 2:
        raise _error(path, "data.duration", "must give at least 2 samples at 100 Hz")
    return data


def _trunk(spec, trunks: dict, path, where) -> dict:
    if isinstance(spec, str):
        if spec in trunks:
            return trunks[spec]
        if spec in TRUNKS:
            spec = {"name": spec}
        else:
            raise _error(
                path,
                where,
                f"unknown trunk {spec!r} (named trunks: {sorted(trunks)}; kinds: "
                f"{sorted(TRUNKS)})",
            )
    spec = _mapping(spec, path, where)
    name = spec.get("name")
    if name not in TRUNKS:
        raise _error(
            path, f"{where}.name", f"unknown trunk {name!r} (kinds: {sorted(TRUNKS)})"
        )
    _check_keys(spec, ("name", *TRUNKS[name]), path, where)
    trunk = {"name": name, **TRUNKS[name], **spec}
    for key in TRUNKS[name]:
        _number(trunk[key], path, f"{where}.{key}", low=1, integer=True)
    return trunk


def _transform(name, params, path, where):
    """Build a transform (sinusoids: one channel, 100 Hz) or name the error."""
    from augsleep.transforms import TRANSFORMS, make_transform

    if name not in TRANSFORMS:
        raise _error(
            path, where, f"unknown transform {name!r} (available: {sorted(TRANSFORMS)})"
        )
    try:
        return make_transform(name, sfreq=SFREQ, **params)
    except (TypeError, ValueError) as err:
        raise _error(
            path, where, f"cannot build {name!r} on sinusoids: {err}"
        ) from None


def _transform_spec(spec, defaults, path, where) -> dict:
    """Check an oracle or a probe: ``transform``, its fields, its parameters."""
    spec = _mapping(spec, path, where)
    if "transform" not in spec:
        raise _error(path, f"{where}.transform", "missing")
    fields = {**defaults, **{k: v for k, v in spec.items() if k in defaults}}
    params = {k: v for k, v in spec.items() if k not in defaults}
    _transform(fields["transform"], params, path, f"{where}.transform")
    _number(fields["magnitude"], path, f"{where}.magnitude", low=0, high=1)
    if "probability" in fields:
        _number(fields["probability"], path, f"{where}.probability", low=0, high=1)
    return {**fields, "params": params}


def _setting(label, given, common, trunks, seeds, path) -> SettingSpec:
    from augsleep.augment import SINUSOID_TRANSFORMS
    from augsleep.augment.regularizers import REGULARIZERS
    from augsleep.demo import SINUSOID_RANGES

    where = f"settings.{label}"
    given = _mapping(given, path, where)
    for source, mapping in (("common", common), (where, given)):
        _check_keys(mapping, SETTING_DEFAULTS, path, source)
    s = {**SETTING_DEFAULTS, **common, **given}

    def at(key):
        """Name the field a value came from (a default: the setting)."""
        return f"{'common' if key in common and key not in given else where}.{key}"

    s["trunk"] = _trunk(s["trunk"], trunks, path, at("trunk"))
    if not isinstance(s["augment"], bool):
        raise _error(path, at("augment"), "must be true or false")
    transforms = (
        list(SINUSOID_TRANSFORMS) if s["transforms"] is None else s["transforms"]
    )
    if (
        not isinstance(transforms, list)
        or not transforms
        or any(not isinstance(t, str) for t in transforms)
        or len(set(transforms)) != len(transforms)
    ):
        raise _error(
            path,
            at("transforms"),
            f"must list distinct transform names, got {transforms!r}",
        )
    s["transforms"] = transforms
    _number(
        s["augmentation_layers"], path, at("augmentation_layers"), low=1, integer=True
    )
    tparams = _mapping(s["transform_params"], path, at("transform_params"))
    for name, params in tparams.items():
        if name not in transforms:
            raise _error(
                path,
                f"{at('transform_params')}.{name}",
                f"not one of the setting's transforms {transforms}",
            )
        _mapping(params, path, f"{at('transform_params')}.{name}")
    s["transform_params"] = {
        t: dict(tparams.get(t, SINUSOID_RANGES.get(t, {}))) for t in transforms
    }
    for name in transforms:
        field_ = (
            f"{at('transform_params')}.{name}"
            if name in tparams
            else f"{at('transforms')}.{name}"
        )
        _transform(name, s["transform_params"][name], path, field_)
    if s["regularizer"] not in REGULARIZERS:
        raise _error(
            path,
            at("regularizer"),
            f"must be one of {list(REGULARIZERS)}, got {s['regularizer']!r}",
        )
    _number(s["lam"], path, at("lam"), low=0)
    _number(s["initial_magnitude"], path, at("initial_magnitude"), low=0, high=1)
    _number(s["temperature"], path, at("temperature"), low=0, strict_low=True)
    _number(s["n_epochs"], path, at("n_epochs"), low=1, integer=True)
    _number(s["batch_size"], path, at("batch_size"), low=1, integer=True)
    _number(s["lr"], path, at("lr"), low=0, strict_low=True)
    _number(s["weight_decay"], path, at("weight_decay"), low=0)
    if s["oracle"] is not None:
        if s["augment"]:
            raise _error(
                path,
                at("oracle"),
                "an oracle augmentation replaces the learned one: set augment: false",
            )
        s["oracle"] = _transform_spec(s["oracle"], _ORACLE_FIELDS, path, at("oracle"))
    copies = s["copies"]
    if (
        not isinstance(copies, list)
        or not copies
        or any(not isinstance(c, int) or isinstance(c, bool) or c < 1 for c in copies)
        or len(set(copies)) != len(copies)
    ):
        raise _error(
            path, at("copies"), f"must list distinct integers >= 1, got {copies!r}"
        )
    _number(s["draws"], path, at("draws"), low=1, integer=True)
    probes = _mapping(s["invariance"], path, at("invariance"))
    s["invariance"] = {
        str(name): _transform_spec(
            probe, _PROBE_FIELDS, path, f"{at('invariance')}.{name}"
        )
        for name, probe in probes.items()
    }
    _number(s["step_trace_epochs"], path, at("step_trace_epochs"), low=0, integer=True)
    own = s.pop("seeds")
    if own is None:
        setting_seeds = tuple(seeds)
    else:
        from augsleep.pipeline.config import _seeds

        setting_seeds = tuple(_seeds(own, path, at("seeds")))
    return SettingSpec(label, s, setting_seeds)


def load_study(path: Path, raw: dict, size: str = "full") -> StudyPipeline:
    """Check a study pipeline file (already read, its size applied).

    Parameters
    ----------
    path : Path
        The file (for the messages).
    raw : dict
        Its content.
    size : str
        The size applied (recorded in the manifest).

    Returns
    -------
    pipeline : StudyPipeline

    Raises
    ------
    PipelineError
        Naming the file and the field: an unknown study, field, trunk or
        transform, a transform parameter the transform refuses, a value out
        of range, an unknown setting in ``use``.
    """
    from augsleep.pipeline.config import _LABEL, _seeds

    unknown = [k for k in raw if k not in STUDY_FIELDS]
    if unknown:
        raise _error(
            path,
            unknown[0],
            f"unknown field of a study pipeline (expected one of {list(STUDY_FIELDS)})",
        )
    study = raw.get("study")
    if study not in STUDIES:
        raise _error(
            path, "study", f"unknown study {study!r} (available: {list(STUDIES)})"
        )
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _LABEL.match(name):
        raise _error(path, "name", f"must be a short name, got {name!r}")
    data = _data(raw.get("data"), path)
    seeds = _seeds(raw.get("seeds", [0]), path)
    trunks = {}
    for label, spec in _mapping(raw.get("trunks"), path, "trunks").items():
        if not isinstance(label, str) or not _LABEL.match(label):
            raise _error(path, f"trunks.{label}", "bad trunk label")
        trunks[label] = _trunk(spec, {}, path, f"trunks.{label}")
    common = _mapping(raw.get("common"), path, "common")
    given = raw.get("settings")
    if not isinstance(given, dict) or not given:
        raise _error(path, "settings", "expected a non-empty mapping of settings")
    settings = []
    for label, spec in given.items():
        if not isinstance(label, str) or not _LABEL.match(label):
            raise _error(path, f"settings.{label}", f"bad setting label {label!r}")
        settings.append(_setting(label, spec, common, trunks, seeds, path))
    use = raw.get("use")
    if use is not None:
        labels = [s.label for s in settings]
        if not isinstance(use, list) or not use or len(set(map(str, use))) != len(use):
            raise _error(path, "use", f"must list distinct setting labels, got {use!r}")
        for label in use:
            if label not in labels:
                raise _error(path, "use", f"no setting {label!r} (settings: {labels})")
        settings = [s for s in settings if s.label in use]
    return StudyPipeline(
        path=path.resolve(),
        name=name,
        study=study,
        data=data,
        settings=settings,
        seeds=seeds,
        raw=raw,
        size=size,
    )


@dataclass(frozen=True)
class StudyTask:
    """One training of a study: a setting with one seed.

    Has the interface of :class:`augsleep.pipeline.tasks.Task` that
    :func:`augsleep.pipeline.run_tasks` uses (``task_id``, ``record_name``,
    ``config_hash``, ``spec``).
    """

    pipeline: str
    study: str
    data: dict
    setting: str
    params: dict
    seed: int

    @property
    def config(self) -> dict:
        """What decides the result (hashed): study, data, setting, seed."""
        return {
            "study": self.study,
            "data": self.data,
            "params": self.params,
            "seed": self.seed,
        }

    @property
    def config_hash(self) -> str:
        """SHA-256 of :attr:`config` as canonical JSON."""
        from augsleep.pipeline.tasks import hash_config  # tasks imports this module

        return hash_config(self.config)

    @property
    def task_id(self) -> str:
        """Readable name: ``<pipeline>-<setting>-seed<s>``."""
        return f"{self.pipeline}-{self.setting}-seed{self.seed}"

    @property
    def record_name(self) -> str:
        """File name of the task's record."""
        from augsleep.pipeline.tasks import HASH_CHARS

        return f"{self.task_id}-{self.config_hash[:HASH_CHARS]}.json"

    def spec(self, cache_dir=None, torch_threads: int = 1, models_dir=None) -> dict:
        """Describe the task for a worker, as JSON-able values.

        ``cache_dir`` and ``models_dir`` are accepted as by
        :meth:`Task.spec <augsleep.pipeline.tasks.Task.spec>` and unused (the
        data are drawn, not loaded; no model is saved).
        """
        header = {
            "kind": "study",
            "study": self.study,
            "task_id": self.task_id,
            "config_hash": self.config_hash,
            "pipeline": self.pipeline,
            # ``method`` as in the sleep records: the label the tables group by.
            "method": self.setting,
            "setting": self.setting,
            "seed": self.seed,
            "params": self.params,
            "data": self.data,
        }
        return {
            "kind": "study",
            "task_id": self.task_id,
            "record_name": self.record_name,
            "header": header,
            "study": self.study,
            "data": self.data,
            "params": self.params,
            "seed": self.seed,
            "torch_threads": torch_threads,
        }


def make_study_tasks(pipeline: StudyPipeline) -> list[StudyTask]:
    """List a study's tasks, setting by setting, seed by seed.

    Parameters
    ----------
    pipeline : StudyPipeline

    Returns
    -------
    tasks : list of StudyTask
    """
    return [
        StudyTask(
            pipeline=pipeline.name,
            study=pipeline.study,
            data=pipeline.data,
            setting=setting.label,
            params=setting.params,
            seed=seed,
        )
        for setting in pipeline.settings
        for seed in setting.seeds
    ]
