"""The training configuration: every key, its type and its default, in one place.

A YAML file (optionally naming a `base:` file it overrides) plus `a.b=value` command-line overrides is
turned into a `TrainConfig` by `load_config`. Unknown keys are rejected with the key's full name and the
nearest valid one; values are type-checked (ints are accepted where floats are expected, `null` only where
the field is optional). Stages read attributes (`cfg.teacher.steps`), never inline defaults.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml


class ConfigError(ValueError):
    """A bad configuration key or value; `str(exc)` is one line naming the key."""


# ---------------------------------------------------------------------------------------------- sections


@dataclass
class ModelCfg:
    encoder: str = "vits"
    version: str = "v2"
    dinov2: Optional[str] = None  # DINOv2 backbone weights for teacher/student init and feature alignment


@dataclass
class DomainCfg:
    """One synthetic shard domain ("labeled", "unlabeled", "eval"): rendered once by `render-data`, or
    read from `dir` when set (then nothing is rendered)."""

    count: int = 0
    kind: str = "mixed"  # mixed, indoor, street
    seed_start: int = 0
    views_per_scene: Optional[int] = None  # None: 2 for eval, else 4
    dir: Optional[str] = None


@dataclass
class SourceCfg:
    """One RGB-D source read by a reader of depth_anything_ros.data.readers.

    `spec` is a dataset spec (`folder:DIR`, `rosbag:PATH`, `nyu:FILE.mat`, `kitti:DIR`, `synthetic:DIR`);
    the other fields override what the reader would infer. `K` is [fx, fy, cx, cy] or a 3x3 matrix;
    `extrinsic` (rosbag LiDAR) is x, y, z, qx, qy, qz, qw of the LiDAR in the camera optical frame.
    """

    spec: str = ""
    min_depth: Optional[float] = None
    max_depth: Optional[float] = None
    K: Optional[list] = None
    kind: Optional[str] = None  # synthetic shards: keep only "indoor" / "street" scenes
    color_topic: Optional[str] = None
    depth_topic: Optional[str] = None
    info_topic: Optional[str] = None
    points_topic: Optional[str] = None
    extrinsic: Optional[list] = None
    tolerance: Optional[float] = None  # seconds between a color frame and its depth / cloud


@dataclass
class DataCfg:
    root: Optional[str] = None  # synthetic shard root; None: <run_dir>/data
    size: list = field(default_factory=lambda: [266, 350])  # render size (H, W)
    invalid_is_sky: bool = False  # synthetic frames: invalid pixels are sky -> disparity 0
    labeled: DomainCfg = field(default_factory=DomainCfg)
    unlabeled: DomainCfg = field(default_factory=DomainCfg)
    eval: DomainCfg = field(default_factory=DomainCfg)
    # real / recorded data for the labeled stages (teacher, student's labeled half, metric); empty: the
    # labeled synthetic shards above
    train: list[SourceCfg] = field(default_factory=list)
    val: list[SourceCfg] = field(default_factory=list)  # empty: split off `train` (see split_*)
    split_fraction: float = 0.2  # share of frames held out for validation: whole scenes, or the last
    #                              stretch of each recorded sequence in time
    split_gap: int = 10  # sequences: frames between the train and validation stretches that neither uses


@dataclass
class AugmentCfg:
    jitter: list = field(default_factory=lambda: [0.5, 0.5, 0.5, 0.25])  # brightness, contrast, saturation, hue
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: list = field(default_factory=lambda: [0.1, 2.0])


@dataclass
class StageCfg:
    """What every training stage shares (optimizer, schedule, budget, logging, checkpoints)."""

    crop: list = field(default_factory=lambda: [518, 518])
    steps: int = 1000
    max_minutes: Optional[float] = None  # wall-clock budget; the lr schedule runs on min(steps, minutes)
    lr_encoder: float = 5e-6
    decoder_lr_mult: float = 10.0
    weight_decay: float = 0.01
    schedule: str = "linear"  # linear, poly, constant
    warmup: int = 0
    grad_clip: Optional[float] = None
    ckpt_every: int = 50
    log_every: int = 10
    image_every: int = 100
    resume: bool = True
    kind: Optional[str] = None  # synthetic shards: keep only "indoor" / "street" scenes


@dataclass
class TeacherCfg(StageCfg):
    batch_size: int = 8


@dataclass
class StudentCfg(StageCfg):
    labeled_batch: int = 8
    unlabeled_batch: Optional[int] = None  # None: 2 x labeled_batch
    use_unlabeled: bool = True
    perturb: bool = True
    cutmix_p: float = 0.5
    feature_align: bool = True
    feature_margin: float = 0.85
    augment: AugmentCfg = field(default_factory=AugmentCfg)


@dataclass
class MetricCfg(StageCfg):
    init: str = "encoder"  # encoder: V2 recipe (encoder only, head re-initialised); continue: whole model
    init_from: str = "student"  # student, teacher, or a checkpoint path
    freeze_encoder: bool = False  # train the DPT head only (tiny data)
    max_depth: float = 20.0
    min_depth: float = 1e-3
    input_size: Optional[list] = None  # deployment network size (H, W); None: the init model's, else crop
    batch_size: int = 4
    schedule: str = "poly"
    silog_lambda: float = 0.5
    val_every: int = 0  # evaluate on the validation split every N steps (0: only at the end)
    keep_best: bool = True  # ship the best validation checkpoint (the starting model included)


@dataclass
class PseudoLabelCfg:
    size: Optional[list] = None  # None: each frame at its own (multiple-of-14) size
    batch_size: int = 16


@dataclass
class EvaluationCfg:
    """End-of-stage evaluation."""

    limit: int = 64
    eval: bool = True
    unlabeled: bool = True


@dataclass
class EvaluateCfg:
    """The `evaluate` stage."""

    checkpoint: Optional[str] = None  # None: <run_dir>/metric/model.safetensors
    limit: int = 100
    middlebury: bool = True
    align: str = "median"  # metric models' aligned columns: median or lstsq scale in depth


@dataclass
class ExportCfg:
    source: Optional[str] = None  # None: <run_dir>/metric/model.safetensors
    checkpoint: Optional[str] = None  # None: <run_dir>/export/model.safetensors
    onnx: Optional[str] = None  # None: <run_dir>/export/model.onnx
    height: Optional[int] = None  # None: the model's recorded input size
    width: Optional[int] = None
    overwrite: bool = False  # an existing file is never replaced unless this is set


@dataclass
class AblationCfg:
    rows: list = field(default_factory=lambda: ["labeled_only", "pseudo", "perturb", "feature_align"])
    out: str = "ablation"


@dataclass
class TrainConfig:
    """The whole training configuration (see training/configs/*.yaml and docs/training.md)."""

    name: str = "run"
    run_dir: str = "runs/run"
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    progress: bool = True
    tensorboard: bool = True
    license: str = "Apache-2.0"
    provenance: str = ""  # extra text for the shipped model's metadata; the run's facts are always added
    model: ModelCfg = field(default_factory=ModelCfg)
    data: DataCfg = field(default_factory=DataCfg)
    teacher: TeacherCfg = field(default_factory=TeacherCfg)
    pseudo_label: PseudoLabelCfg = field(default_factory=PseudoLabelCfg)
    student: StudentCfg = field(default_factory=StudentCfg)
    metric: MetricCfg = field(default_factory=MetricCfg)
    evaluation: EvaluationCfg = field(default_factory=EvaluationCfg)
    evaluate: EvaluateCfg = field(default_factory=EvaluateCfg)
    export: ExportCfg = field(default_factory=ExportCfg)
    ablation: AblationCfg = field(default_factory=AblationCfg)
    config_path: str = ""  # set by load_config

    def to_dict(self) -> dict:
        """Plain nested dict (what a run records next to its outputs)."""
        return dataclasses.asdict(self)


CHOICES = {
    "model.version": ("v1", "v2"),
    "metric.init": ("encoder", "continue"),
    "evaluate.align": ("median", "lstsq"),
}
SCHEDULES = ("linear", "poly", "constant")
KINDS = ("mixed", "indoor", "street")


# ---------------------------------------------------------------------------------------------- building


def _is_dc(tp) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _check_value(key: str, tp, value):
    """`value` checked against annotation `tp`; returns the (converted) value or raises ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _check_value(key, inner, value)
    if value is None:
        raise ConfigError(f"{key}: must be set (null is not allowed here)")
    if _is_dc(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a section (mapping), got {value!r}")
        return build(tp, value, key + ".")
    if tp is list or origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if args and _is_dc(args[0]):
            return [_check_value(f"{key}[{i}]", args[0], v) for i, v in enumerate(value)]
        return list(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def build(cls, values: dict, prefix: str = ""):
    """A `cls` dataclass from a nested dict: unknown keys rejected (nearest valid one named), types checked."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in values.items():
        if k not in hints:
            near = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean '{prefix}{near[0]}'?)" if near else f" (valid: {', '.join(names)})"
            raise ConfigError(f"unknown key '{prefix}{k}'{hint}")
        kwargs[k] = _check_value(prefix + k, hints[k], v)
    return cls(**kwargs)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def read_yaml(path: str | Path) -> dict:
    """The raw nested dict of a config file, its `base:` chain merged in (paths relative to each file)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping")
    if "base" in raw:
        raw = _merge(read_yaml(path.parent / raw.pop("base")), raw)
    return raw


def apply_overrides(raw: dict, overrides) -> dict:
    """`a.b.c=value` items (values parsed as YAML) applied to a nested dict."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, value = item.split("=", 1)
        node = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p} is not a section")
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def from_dict(raw: dict) -> TrainConfig:
    """A checked TrainConfig from a nested dict (see `build` and `validate`)."""
    return validate(build(TrainConfig, raw))


def load_config(path: str | Path, overrides=()) -> TrainConfig:
    """YAML config (with its `base:` chain) plus `a.b=value` overrides -> checked TrainConfig."""
    cfg = from_dict(apply_overrides(read_yaml(path), overrides))
    cfg.config_path = str(path)
    return cfg


def _size(key: str, v) -> None:
    if v is None:
        return
    if len(v) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 14 for x in v):
        raise ConfigError(f"{key}: expected [H, W] with integers >= 14, got {v!r}")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Value checks that a type cannot express (choices, sizes, ranges)."""
    for key, choices in CHOICES.items():
        sec, name = key.split(".")
        v = getattr(getattr(cfg, sec), name)
        if v not in choices:
            raise ConfigError(f"{key}: {v!r} is not one of {', '.join(choices)}")
    for stage in ("teacher", "student", "metric"):
        c = getattr(cfg, stage)
        if c.schedule not in SCHEDULES:
            raise ConfigError(f"{stage}.schedule: {c.schedule!r} is not one of {', '.join(SCHEDULES)}")
        _size(f"{stage}.crop", c.crop)
        if c.steps < 0 or c.ckpt_every < 1 or c.log_every < 1 or c.image_every < 1:
            raise ConfigError(f"{stage}: steps must be >= 0 and ckpt_every/log_every/image_every >= 1")
        if c.kind is not None and c.kind not in KINDS:
            raise ConfigError(f"{stage}.kind: {c.kind!r} is not one of {', '.join(KINDS)}")
    _size("metric.input_size", cfg.metric.input_size)
    if not 0 <= cfg.metric.min_depth < cfg.metric.max_depth:
        raise ConfigError(f"metric: need 0 <= min_depth < max_depth, got {cfg.metric.min_depth} / {cfg.metric.max_depth}")
    if not 0.0 <= cfg.data.split_fraction < 1.0:
        raise ConfigError(f"data.split_fraction: must be in [0, 1), got {cfg.data.split_fraction}")
    if cfg.data.split_gap < 0:
        raise ConfigError(f"data.split_gap: must be >= 0, got {cfg.data.split_gap}")
    for group in ("train", "val"):
        for i, s in enumerate(getattr(cfg.data, group)):
            if not s.spec:
                raise ConfigError(f"data.{group}[{i}].spec: empty (e.g. folder:DIR or rosbag:PATH)")
            if s.K is not None and len(s.K) not in (3, 4):
                raise ConfigError(f"data.{group}[{i}].K: expected [fx, fy, cx, cy] or a 3x3 matrix, got {s.K!r}")
            if s.extrinsic is not None and len(s.extrinsic) != 7:
                raise ConfigError(f"data.{group}[{i}].extrinsic: expected x, y, z, qx, qy, qz, qw, got {s.extrinsic!r}")
    for name in ("labeled", "unlabeled", "eval"):
        if getattr(cfg.data, name).kind not in KINDS:
            raise ConfigError(f"data.{name}.kind: {getattr(cfg.data, name).kind!r} is not one of {', '.join(KINDS)}")
    if cfg.threads < 1:
        raise ConfigError(f"threads: must be >= 1, got {cfg.threads}")
    return cfg


def replace(cfg, **changes):
    """A copy of a config section (or the whole config) with some fields changed (checked like YAML keys)."""
    raw = _merge(dataclasses.asdict(cfg), changes)
    out = build(type(cfg), raw)
    if hasattr(cfg, "config_path"):
        out.config_path = cfg.config_path
    return out
