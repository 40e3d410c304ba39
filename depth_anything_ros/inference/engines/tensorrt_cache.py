"""TensorRT engine cache: keys, plan sidecars, invalidation and the TensorRT version table.

Pure Python (no `tensorrt`, no CUDA): everything here is tested on machines without a GPU.

A TensorRT plan only runs on the GPU model and TensorRT version that built it, and it computes what
its ONNX file and builder options say. The cache key is therefore everything that changes the plan:
    ONNX sha256 (which fixes the precision: it is carried by the graph), builder options (workspace,
    TF32, ...), input shape profile, GPU name + compute capability, TensorRT version.
Every plan has a JSON sidecar (`<plan>.json`) with that key, the model's metadata, the options it
was built with (a rebuild after a GPU / TensorRT change reuses them) and the self-check results.
A plan whose sidecar disagrees with the current key is never loaded; `explain_mismatch` says why.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

SIDECAR_VERSION = 2
PRECISIONS = ("fp32", "fp16", "int8")
MIN_TENSORRT = (10, 0)
NEWEST_KNOWN_MAJOR = 11

# TensorRT releases known to give wrong output for this family of models; a plan built by one of them
# is used only after a passing self-check (a comparison with ONNX Runtime on real photos).
# Depth Anything V2 wrong on Jetson AGX Orin with TensorRT 10.3.0.30, right with 10.12 on desktop
# (spacewalk01/depth-anything-tensorrt#49); Depth Anything 3 scale jumping per frame on JetPack 6.2 /
# TensorRT 10.3, fixed by 10.14-10.16 (ika-rwth-aachen/ros2-depth-anything-v3-trt#16); NVIDIA on a
# transformer wrong on 10.3: "a bug that was in 10.3 that was fixed in subsequent versions"
# (NVIDIA/TensorRT#4419).
KNOWN_BAD_TENSORRT: dict[tuple[int, int], str] = {
    (10, 3): "TensorRT 10.3 (JetPack 6.x) is known to give wrong Depth Anything output "
             "(spacewalk01/depth-anything-tensorrt#49, ika-rwth-aachen/ros2-depth-anything-v3-trt#16); "
             "its plans are used only after a passing self-check",
}


class TensorRTVersionError(RuntimeError):
    """The installed TensorRT is one this engine cannot use; the message says why."""


def parse_version(version: str) -> tuple[int, ...]:
    """'10.3.0.30' -> (10, 3, 0, 30); non-numeric suffixes ('10.8.0.post1') are ignored."""
    parts = []
    for piece in str(version).split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    if not parts:
        raise ValueError(f"not a version: {version!r}")
    return tuple(parts)


@dataclass(frozen=True)
class VersionPolicy:
    """What this project does with a TensorRT version (see `version_policy`)."""

    version: str
    status: str                 # "supported", "self-check required", "untested"
    require_self_check: bool    # a plan is refused unless its self-check on this device passed
    warning: str | None = None  # logged once when the engine starts


def version_policy(trt_version: str) -> VersionPolicy:
    """The version table: < 10 refused (TensorRTVersionError); 10.3 only with a passing self-check;
    other 10.x and 11.x supported; a newer, unknown major warns and tries."""
    v = parse_version(trt_version)
    if v[:2] < MIN_TENSORRT:
        raise TensorRTVersionError(
            f"TensorRT {trt_version} is too old: this engine needs TensorRT >= 10 (named I/O tensors, "
            "execute_async_v3, strongly typed networks); install TensorRT 10.x or 11.x")
    bad = KNOWN_BAD_TENSORRT.get(v[:2])
    if bad:
        return VersionPolicy(trt_version, "self-check required", True, f"TensorRT {trt_version}: {bad}")
    if v[0] > NEWEST_KNOWN_MAJOR:
        return VersionPolicy(trt_version, "untested", False,
                             f"TensorRT {trt_version} is newer than any release this engine was checked against "
                             f"(10.3-{NEWEST_KNOWN_MAJOR}.x); trying it, and its plans are self-checked")
    return VersionPolicy(trt_version, "supported", False)


def version_warnings(trt_version: str, jetson: bool | None = None) -> list[str]:
    """The policy's warning as a list (empty when there is none); raises TensorRTVersionError below 10."""
    policy = version_policy(trt_version)
    return [policy.warning] if policy.warning else []


ShapeProfile = tuple[tuple[int, int, int, int], tuple[int, int, int, int], tuple[int, int, int, int]]


def static_profile(height: int, width: int, batch: int = 1) -> ShapeProfile:
    """The (min, opt, max) profile of a fixed input shape."""
    shape = (batch, 3, height, width)
    return shape, shape, shape


def onnx_input_shape(onnx_path: str | Path, name: str = "image") -> tuple[int, ...]:
    """Shape of input `name` of an ONNX file, -1 for symbolic dims (reads the graph only, not the weights)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    for tensor in model.graph.input:
        if tensor.name == name:
            dims = tensor.type.tensor_type.shape.dim
            return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
    raise ValueError(f"{onnx_path}: no input named {name!r}")


def resolve_profile(onnx_shape: tuple[int, ...], input_size: tuple[int, int] | None, max_batch: int,
                    min_size: tuple[int, int] | None = None, max_size: tuple[int, int] | None = None) -> ShapeProfile:
    """Optimization profile (min, opt, max) for the `image` input.

    Static H/W: that size. Dynamic H/W: `input_size` is the opt shape (required), `min_size`/`max_size`
    default to the opt shape (one plan per camera size: TensorRT tunes kernels for the exact shape).
    Batch: 1 .. max_batch, opt 1.
    """
    _, _, h, w = onnx_shape
    if h > 0 and w > 0:
        if input_size is not None and tuple(input_size) != (h, w):
            raise ValueError(f"the ONNX file is static {h}x{w}; cannot build it for {input_size[0]}x{input_size[1]}")
        opt = lo = hi = (h, w)
    else:
        if input_size is None:
            raise ValueError("the ONNX file has dynamic H/W: give the network size to build for (input_size)")
        opt = tuple(input_size)
        lo, hi = tuple(min_size or opt), tuple(max_size or opt)
    return (1, 3, *lo), (1, 3, *opt), (max_batch, 3, *hi)


def format_profile(profile: ShapeProfile) -> str:
    """'1x3x518x392' for a fixed shape, 'min/opt/max' otherwise."""
    shapes = ["x".join(str(d) for d in s) for s in profile]
    return shapes[0] if len(set(shapes)) == 1 else "/".join(shapes)


def canonical_options(options: dict) -> str:
    """Builder options as the canonical JSON string the key holds (sorted keys, no spaces)."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class EngineKey:
    """Everything a TensorRT plan depends on. Two plans are interchangeable only when keys are equal."""

    gpu_name: str
    compute_capability: str  # "8.7"
    tensorrt_version: str
    precision: str           # the ONNX file's (its metadata); part of onnx_sha256, kept for names and messages
    input_shape: str         # format_profile(...)
    onnx_sha256: str
    builder_options: str = "{}"  # canonical_options(...): workspace, tf32, max batch, ...

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def model_identity(self) -> tuple[str, str]:
        """What the plan computes (independent of where and how it was built)."""
        return self.onnx_sha256, self.input_shape

    def plan_name(self, stem: str = "model") -> str:
        """File name of the cached plan, e.g. 'depth_vits-fp16-1x3x518x392-3fa2c0e1d2b4a5c6.plan'."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:48] or "model"
        shape = self.input_shape.replace("/", "_")
        return f"{safe}-{self.precision}-{shape}-{self.digest}.plan"


def explain_mismatch(built: EngineKey, current: EngineKey) -> str | None:
    """None when a plan built under `built` may run under `current`; otherwise the reason, one line."""
    reasons = []
    if (built.gpu_name, built.compute_capability) != (current.gpu_name, current.compute_capability):
        reasons.append(f"built on {built.gpu_name} (sm {built.compute_capability}), "
                       f"this is {current.gpu_name} (sm {current.compute_capability})")
    if built.tensorrt_version != current.tensorrt_version:
        reasons.append(f"built with TensorRT {built.tensorrt_version}, this is TensorRT {current.tensorrt_version}")
    if built.precision != current.precision:
        reasons.append(f"precision {built.precision}, asked for {current.precision}")
    if built.input_shape != current.input_shape:
        reasons.append(f"input shape {built.input_shape}, asked for {current.input_shape}")
    if built.onnx_sha256 != current.onnx_sha256:
        reasons.append("the ONNX file changed since it was built")
    if built.builder_options != current.builder_options:
        reasons.append(f"builder options {built.builder_options}, asked for {current.builder_options}")
    return "; ".join(reasons) or None


@dataclass
class PlanSidecar:
    """The JSON written next to every plan (`model.plan.json`)."""

    key: EngineKey
    model_meta: str  # ModelMeta.to_json() of the ONNX the plan was built from
    onnx_path: str = ""
    # how it was built: "profile" [[min], [opt], [max]], "options" (the key's builder options as a dict),
    # "build_seconds", ...; a rebuild after a GPU / TensorRT change reuses "profile" and "options"
    builder: dict = field(default_factory=dict)
    # device id -> {"ok": bool, "figures": [...], "tolerance": str, "reason": str}
    self_checks: dict = field(default_factory=dict)
    sidecar_version: int = SIDECAR_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PlanSidecar":
        data = json.loads(text)
        if data.get("sidecar_version") != SIDECAR_VERSION:
            raise ValueError(f"plan sidecar version {data.get('sidecar_version')!r}, expected {SIDECAR_VERSION}")
        data["key"] = EngineKey(**data["key"])
        return cls(**data)


def sidecar_path(plan_path: str | Path) -> Path:
    plan_path = Path(plan_path)
    return plan_path.with_name(plan_path.name + ".json")


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temp file in the same folder and a rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_sidecar(plan_path: str | Path, sidecar: PlanSidecar) -> Path:
    """Atomically write the sidecar of `plan_path`."""
    return write_atomic(sidecar_path(plan_path), sidecar.to_json().encode())


def read_sidecar(plan_path: str | Path) -> PlanSidecar | None:
    """The sidecar of `plan_path`, or None when there is none or it is unreadable."""
    path = sidecar_path(plan_path)
    if not path.is_file():
        return None
    try:
        return PlanSidecar.from_json(path.read_text())
    except (ValueError, TypeError, KeyError):
        return None


def write_plan(plan_path: str | Path, plan: bytes, sidecar: PlanSidecar) -> Path:
    """Write a plan and its sidecar, each through a temp file: a crash leaves no half plan.

    The sidecar goes first, so a plan file never exists without the record of how it was built.
    """
    plan_path = Path(plan_path)
    write_sidecar(plan_path, sidecar)
    write_atomic(plan_path, bytes(plan))
    return plan_path


def default_cache_dir() -> Path:
    """$DEPTH_ANYTHING_ROS_CACHE/tensorrt, else $XDG_CACHE_HOME/depth_anything_ros/tensorrt, else ~/.cache/..."""
    env = os.environ.get("DEPTH_ANYTHING_ROS_CACHE")
    if env:
        return Path(env) / "tensorrt"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "depth_anything_ros" / "tensorrt"


@dataclass
class Lookup:
    """Result of a cache lookup: a plan to load, or None and the reason it must be built.

    `previous` is the sidecar of a plan of the same model that cannot be used here (another GPU or
    TensorRT version): its recorded builder settings are the ones to rebuild with.
    """

    plan: Path | None
    reason: str
    previous: PlanSidecar | None = None


class EngineCache:
    """A folder of plans named by their key, each with its sidecar, plus timing caches."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def plan_path(self, key: EngineKey, stem: str = "model") -> Path:
        return self.root / key.plan_name(stem)

    def timing_cache_path(self, key: EngineKey) -> Path:
        """Timing caches are only valid for one GPU model and TensorRT version; one file per pair."""
        gpu = re.sub(r"[^A-Za-z0-9]+", "_", key.gpu_name).strip("_")
        return self.root / f"timing-{gpu}-sm{key.compute_capability.replace('.', '')}-trt{key.tensorrt_version}.cache"

    def lookup(self, key: EngineKey, stem: str = "model") -> Lookup:
        """The cached plan for `key` if its sidecar confirms the key, else why there is none to load.

        A plan of the same model (same ONNX and shape) built elsewhere or with other options is named
        in the reason and returned as `previous`, never as the plan.
        """
        path = self.plan_path(key, stem)
        if path.is_file():
            side = read_sidecar(path)
            if side is None:
                return Lookup(None, f"cached plan {path.name} has no readable sidecar; rebuilding")
            why = explain_mismatch(side.key, key)
            if why is None:
                return Lookup(path, f"cached plan {path.name} matches")
            return Lookup(None, f"cached plan {path.name} not usable: {why}; rebuilding", side)
        for other in sorted(self.root.glob("*.plan")) if self.root.is_dir() else ():
            side = read_sidecar(other)
            if side is not None and side.key.model_identity == key.model_identity:
                return Lookup(None, f"cached plan {other.name} not usable: {explain_mismatch(side.key, key)}; "
                                    "rebuilding", side)
        return Lookup(None, f"no cached plan for {key.precision} {key.input_shape} on {key.gpu_name} "
                            f"with TensorRT {key.tensorrt_version}; building")


def check_plan_file(plan_path: str | Path, current_gpu: tuple[str, str], trt_version: str) -> tuple[PlanSidecar | None, str | None]:
    """For an explicitly given plan: (sidecar, None) when it may be loaded here, else (sidecar, reason).

    A plan without a sidecar (e.g. built by trtexec) returns (None, None): the caller decides.
    """
    side = read_sidecar(plan_path)
    if side is None:
        return None, None
    current = EngineKey(current_gpu[0], current_gpu[1], trt_version, side.key.precision, side.key.input_shape,
                        side.key.onnx_sha256, side.key.builder_options)
    return side, explain_mismatch(side.key, current)
