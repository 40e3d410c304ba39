"""The node's parameters: defaults, the YAML file, and start-up validation (one-line reasons).

`NodeConfig` is the single source of truth: the node declares one ROS parameter per field (nested
QoS fields as `input_qos.reliability` etc.), `config/depth_anything.yaml` lists the same defaults
(a test keeps the two equal), and `validate()` turns the raw values into a checked config or raises
`ParameterError` naming the parameter and the reason.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..inference.engines import ENGINE_NAMES

ENGINES = ("auto",) + ENGINE_NAMES  # auto: by the model file (.onnx -> onnxruntime, .plan -> tensorrt, else torch)
INPUT_TYPES = ("raw", "compressed")
RELIABILITIES = ("best_effort", "reliable")
DURABILITIES = ("volatile", "transient_local")


class ParameterError(ValueError):
    """An invalid parameter value; `str(exc)` is one line naming the parameter."""


@dataclass
class QosConfig:
    """History is always KEEP_LAST; `depth` is its length."""

    reliability: str = "best_effort"
    depth: int = 1
    durability: str = "volatile"


@dataclass
class NodeConfig:
    """Every parameter of the depth node, with its default (see docs/node.md for the meaning of each)."""

    # model / engine
    model_path: str = ""
    engine: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"  # torch: what runs; tensorrt: must be the ONNX file's (it carries the precision)
    network_size: str = ""  # "HxW" (multiples of 14); "" = engine's fixed size, else official rule
    num_threads: int = 0  # intra-op threads (torch, onnxruntime); 0 = library default
    trt_cache_dir: str = ""  # tensorrt: plan cache folder; "" = $DEPTH_ANYTHING_ROS_CACHE or ~/.cache/...
    trt_strict: bool = False  # tensorrt: a plan failing its self-check stops the node (exit 2), no fallback
    # input
    input_type: str = "raw"  # raw: `image` (sensor_msgs/Image); compressed: `image/compressed`
    max_input_pixels: int = 40_000_000  # larger frames are skipped (compressed: from the header, before decoding)
    # depth output
    output_scale: float = 1.0  # output size = input size × scale (K/P scaled to match)
    min_depth: float = 0.1  # metres; below -> NaN
    max_depth: float = 0.0  # metres; above -> NaN; 0 = the model's max_depth (metric) / no limit
    relative_scale: float = 0.0  # relative models: depth = scale / inverse depth when > 0
    publish_depth_mm: bool = False  # also `depth/image_mm` 16UC1 (0 = invalid)
    lazy_outputs: bool = True  # make only the outputs that have subscribers; none at all = no inference
    # point cloud
    publish_points: bool = True
    points_rgb: bool = True
    points_stride: int = 1  # 1 = organized full resolution; n = every n-th row and column
    # preview
    publish_colored: bool = True
    colored_min: float = 0.0  # colour range; both 0 = per-frame 2nd..98th percentile
    colored_max: float = 0.0
    # --- metric scale (docs/scale.md) ---------------------------------------------------
    focal_rescale: str = "auto"  # auto: metric output x f_c / f_t when the model records f_t; off
    scale_source: str = "none"  # none | depth | points | range | ground
    scale_extrinsic: str = ""  # "x y z qx qy qz qw" camera <- sensor (points); "" = already in the camera frame
    scale_tolerance: float = 0.05  # seconds between image and anchor stamps
    scale_min_inliers: int = 20
    scale_inlier_threshold: float = 0.1  # relative depth error of an inlier
    scale_smoothing: float = 0.3  # weight of a new fit in the log-scale average; 1 = no smoothing
    scale_gate: float = 0.25  # |log(new / smoothed scale)| above this: the fit is rejected
    scale_hold_timeout: float = 2.0  # seconds the last good fit is held without a new one
    scale_range_u: float = -1.0  # range: input-image pixel the beam hits; -1 = the image centre
    scale_range_v: float = -1.0
    ground_height: float = 0.0  # ground: metres of the camera above the floor
    ground_pitch: float = 0.0  # ground: radians the camera looks down
    # ------------------------------------------------------------------------------------------------
    # diagnostics / logging
    diagnostics_period: float = 1.0  # seconds
    log_throttle: float = 1.0  # seconds between two logs of the same bad-input reason
    input_qos: QosConfig = field(default_factory=QosConfig)
    output_qos: QosConfig = field(default_factory=lambda: QosConfig(reliability="reliable", depth=3))

    # filled by validate()
    network_hw: tuple[int, int] | None = field(default=None, compare=False, repr=False)
    extrinsic: tuple | None = field(default=None, compare=False, repr=False)  # parsed scale_extrinsic

    def flat_defaults(self) -> dict:
        """{ROS parameter name: value} (nested QoS as `input_qos.reliability`)."""
        return flatten(self)


def flatten(cfg: NodeConfig) -> dict:
    out = {}
    for f in dataclasses.fields(cfg):
        if f.name in ("network_hw", "extrinsic"):
            continue
        v = getattr(cfg, f.name)
        if isinstance(v, QosConfig):
            for g in dataclasses.fields(v):
                out[f"{f.name}.{g.name}"] = getattr(v, g.name)
        else:
            out[f.name] = v
    return out


def from_flat(values: dict) -> NodeConfig:
    """A NodeConfig from {name: value}; unknown names are rejected, missing ones keep defaults."""
    cfg = NodeConfig()
    known = cfg.flat_defaults()
    for name, value in values.items():
        if name not in known:
            raise ParameterError(f"unknown parameter {name!r}")
        default = known[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ParameterError(f"{name}: expected true/false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"{name}: expected an integer, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{name}: expected a number, got {value!r}")
            value = float(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ParameterError(f"{name}: expected a string, got {value!r}")
        if "." in name:
            group, key = name.split(".", 1)
            setattr(getattr(cfg, group), key, value)
        else:
            setattr(cfg, name, value)
    return cfg


def _choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ParameterError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def validate(cfg: NodeConfig, check_files: bool = True) -> NodeConfig:
    """Check every value; returns `cfg` (with `network_hw` parsed) or raises ParameterError.

    `check_files=False` checks the values alone (model_path may be empty or name a file not there yet)."""
    from ..depth_io import parse_size

    if not cfg.model_path and check_files:
        raise ParameterError("model_path is empty: set it to a checkpoint (.safetensors/.pth) or an .onnx file")
    if check_files and not Path(os.path.expanduser(cfg.model_path)).is_file():
        raise ParameterError(f"model_path: no such file {cfg.model_path}")
    _choice("engine", cfg.engine, ENGINES)
    _choice("precision", cfg.precision, ("fp32", "fp16", "bf16", "int8"))
    if cfg.engine == "tensorrt":
        if cfg.precision == "bf16":
            raise ParameterError("precision: bf16 is a torch precision; tensorrt runs the ONNX file's fp32/fp16/int8")
        if not cfg.device.startswith("cuda"):
            raise ParameterError(f"device: {cfg.device!r}: the tensorrt engine runs on a GPU (cuda or cuda:N)")
    elif cfg.precision == "int8":
        raise ParameterError("precision: int8 needs engine tensorrt and an int8 ONNX file")
    _choice("input_type", cfg.input_type, INPUT_TYPES)
    cfg.network_hw = None
    if cfg.network_size:
        try:
            cfg.network_hw = parse_size(cfg.network_size)
        except ValueError as exc:
            raise ParameterError(f"network_size: {exc}") from None
    if cfg.num_threads < 0:
        raise ParameterError(f"num_threads: must be >= 0, got {cfg.num_threads}")
    if not 16 <= cfg.max_input_pixels <= 1_000_000_000:
        raise ParameterError(f"max_input_pixels: must be in 16..1000000000, got {cfg.max_input_pixels}")
    if not 0.0 < cfg.output_scale <= 4.0:
        raise ParameterError(f"output_scale: must be in (0, 4], got {cfg.output_scale}")
    if not cfg.min_depth >= 0.0:
        raise ParameterError(f"min_depth: must be >= 0, got {cfg.min_depth}")
    if not cfg.max_depth >= 0.0:
        raise ParameterError(f"max_depth: must be >= 0 (0 = the model's), got {cfg.max_depth}")
    if cfg.max_depth and cfg.max_depth <= cfg.min_depth:
        raise ParameterError(f"max_depth ({cfg.max_depth}) must be greater than min_depth ({cfg.min_depth})")
    if not cfg.relative_scale >= 0.0:
        raise ParameterError(f"relative_scale: must be >= 0, got {cfg.relative_scale}")
    if not 1 <= cfg.points_stride <= 64:
        raise ParameterError(f"points_stride: must be in 1..64, got {cfg.points_stride}")
    if cfg.colored_min < 0 or cfg.colored_max < 0 or (cfg.colored_max and cfg.colored_max <= cfg.colored_min):
        raise ParameterError(f"colored_min/colored_max: need 0 <= min < max (or both 0), got "
                             f"{cfg.colored_min}/{cfg.colored_max}")
    if not 0.05 <= cfg.diagnostics_period <= 60.0:
        raise ParameterError(f"diagnostics_period: must be in [0.05, 60] s, got {cfg.diagnostics_period}")
    if not 0.0 <= cfg.log_throttle <= 3600.0:
        raise ParameterError(f"log_throttle: must be in [0, 3600] s, got {cfg.log_throttle}")
    _validate_scale(cfg)
    for name in ("input_qos", "output_qos"):
        q = getattr(cfg, name)
        _choice(f"{name}.reliability", q.reliability, RELIABILITIES)
        _choice(f"{name}.durability", q.durability, DURABILITIES)
        if not 1 <= q.depth <= 100:
            raise ParameterError(f"{name}.depth: must be in 1..100, got {q.depth}")
    return cfg


# what a running node applies on a set-parameters request; everything else needs the model, the engine, the
# subscriptions or the QoS rebuilt (RESTART_ONLY), i.e. a lifecycle reconfigure or a restart
LIVE_PARAMETERS = frozenset({
    "min_depth", "max_depth", "relative_scale", "output_scale", "publish_depth_mm", "lazy_outputs",
    "publish_points", "points_rgb", "points_stride", "publish_colored", "colored_min", "colored_max",
    "diagnostics_period", "log_throttle", "max_input_pixels",
})


def restart_only_parameters() -> frozenset[str]:
    """The node's parameters that only a (re)configure applies."""
    return frozenset(NodeConfig().flat_defaults()) - LIVE_PARAMETERS


def _validate_scale(cfg: NodeConfig) -> None:
    """the metric-scale parameters (docs/scale.md)."""
    from ..scale.stage import SOURCES

    _choice("focal_rescale", cfg.focal_rescale, ("auto", "off"))
    _choice("scale_source", cfg.scale_source, SOURCES)
    cfg.extrinsic = None
    if cfg.scale_extrinsic.strip():
        try:
            vals = [float(v) for v in cfg.scale_extrinsic.replace(",", " ").split()]
        except ValueError:
            vals = []
        if len(vals) != 7 or not all(abs(v) < 1e6 for v in vals) or sum(v * v for v in vals[3:]) < 1e-12:
            raise ParameterError(f"scale_extrinsic: expected 'x y z qx qy qz qw' (7 finite numbers, non-zero "
                                 f"quaternion), got {cfg.scale_extrinsic!r}")
        cfg.extrinsic = tuple(vals)
    if not 0.0 <= cfg.scale_tolerance <= 10.0:
        raise ParameterError(f"scale_tolerance: must be in [0, 10] s, got {cfg.scale_tolerance}")
    if not 1 <= cfg.scale_min_inliers <= 1_000_000:
        raise ParameterError(f"scale_min_inliers: must be >= 1, got {cfg.scale_min_inliers}")
    if not 0.0 < cfg.scale_inlier_threshold < 1.0:
        raise ParameterError(f"scale_inlier_threshold: must be in (0, 1), got {cfg.scale_inlier_threshold}")
    if not 0.0 < cfg.scale_smoothing <= 1.0:
        raise ParameterError(f"scale_smoothing: must be in (0, 1], got {cfg.scale_smoothing}")
    if not cfg.scale_gate > 0.0:
        raise ParameterError(f"scale_gate: must be > 0, got {cfg.scale_gate}")
    if not cfg.scale_hold_timeout >= 0.0:
        raise ParameterError(f"scale_hold_timeout: must be >= 0 s, got {cfg.scale_hold_timeout}")
    if cfg.scale_source == "ground" and not (0.0 < cfg.ground_height < 100.0 and abs(cfg.ground_pitch) < 1.5):
        raise ParameterError(f"ground_height/ground_pitch: scale_source ground needs 0 < ground_height < 100 m and "
                             f"|ground_pitch| < 1.5 rad, got {cfg.ground_height}/{cfg.ground_pitch}")


def scale_config(cfg: NodeConfig):
    """the `ScaleConfig` of the node's parameters."""
    from ..scale.stage import ScaleConfig

    return ScaleConfig(cfg.focal_rescale, cfg.scale_source, cfg.scale_inlier_threshold, cfg.scale_min_inliers,
                       cfg.scale_smoothing, cfg.scale_gate, cfg.scale_hold_timeout, cfg.ground_height, cfg.ground_pitch)


def validate_for_model(cfg: NodeConfig, kind: str, model_max_depth: float | None) -> tuple[float, float]:
    """The effective [min_depth, max_depth] range once the model is known (ParameterError if impossible)."""
    if kind == "metric":
        hi = cfg.max_depth or (model_max_depth or float("inf"))
    elif cfg.relative_scale > 0 or cfg.scale_source != "none":
        hi = cfg.max_depth or float("inf")
    else:
        return cfg.min_depth, cfg.max_depth or float("inf")
    if hi <= cfg.min_depth:
        raise ParameterError(f"max_depth ({hi}) must be greater than min_depth ({cfg.min_depth})")
    return cfg.min_depth, hi


def load_yaml(path: str | Path, node_name: str = "depth_anything") -> dict:
    """{parameter: value} for `node_name` from a ROS 2 parameter file (`/**:` or `<name>:` sections)."""
    import yaml

    with open(path) as fh:
        doc = yaml.safe_load(fh) or {}
    flat: dict = {}

    def walk(prefix: str, d: dict):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                flat[f"{prefix}{k}"] = v

    for section in ("/**", node_name, f"/{node_name}"):
        params = (doc.get(section) or {}).get("ros__parameters")
        if params:
            walk("", params)
    return flat


def default_params_file() -> Path | None:
    """The shipped `depth_anything.yaml` (source checkout, pip data_files or ament share), if found."""
    return find_config_file("depth_anything.yaml")


def find_config_file(name: str) -> Path | None:
    """A file of this package's `config/` folder wherever the package was installed from."""
    import sys

    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "config" / name,
                  Path(sys.prefix) / "share" / "depth_anything_ros" / "config" / name]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("depth_anything_ros")) / "config" / name)
    except Exception:  # noqa: BLE001 - ament index absent (pip install) or package not indexed
        pass
    for c in candidates:
        if c.is_file():
            return c
    return None
