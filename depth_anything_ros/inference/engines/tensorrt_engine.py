"""TensorRT engine: a strongly typed plan built from an ONNX file, self-checked, cached and run.

One code path for TensorRT 10.x and 11.x: the network is created strongly typed, so the precision
is the ONNX graph's (an fp16 file from `export onnx --precision fp16`, Q/DQ nodes in an int8 file),
and the builder never touches the weak-typing API that 11.x removed (precision builder flags, int8
calibrators, per-layer precision). Version table, cache key and self-check: docs/engines.md.

Uses TensorRT's Python API (`tensorrt`) and cuda-python's runtime bindings (`cuda.bindings.runtime`,
or `cuda.cudart` before cuda-python 12.8) for device memory and streams.

NOT RUN ON A GPU: the calls are checked against the real 10.3, 10.13 and 11.4 Python bindings and
driven end to end against a fake that refuses whatever a release lacks (test/engines), but no
TensorRT native library has executed this code.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from .base import Engine
from .self_check import SelfCheck, SelfCheckError, device_id, run_self_check
from ...metadata import sha256_file
from .tensorrt_cache import (
    EngineCache,
    EngineKey,
    PlanSidecar,
    ShapeProfile,
    canonical_options,
    check_plan_file,
    format_profile,
    onnx_input_shape,
    parse_version,
    read_sidecar,
    resolve_profile,
    version_policy,
    write_atomic,
    write_plan,
    write_sidecar,
)

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "depth"

INSTALL_HINT = ('install TensorRT\'s Python package: desktop CUDA 12: pip install "tensorrt-cu12>=10.13,<12" '
                '"cuda-python>=12.8,<13"; desktop CUDA 13: pip install "tensorrt-cu13>=11,<12" "cuda-python>=13"; '
                "Jetson: TensorRT comes with JetPack (not from pip), so create the virtualenv with "
                "--system-site-packages to see it")


class TensorRTMissing(RuntimeError):
    """TensorRT (or cuda-python) cannot be imported; the message keeps the original import error."""


def _import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:  # includes the OSError-turned-ImportError of a missing libnvinfer.so
        raise TensorRTMissing(f"the tensorrt engine cannot import tensorrt ({exc}); {INSTALL_HINT}") from None
    return trt


# ---------------------------------------------------------------------------------------------- CUDA


class CudaRuntime:
    """The few CUDA runtime calls the engine needs, through cuda-python. Errors raise RuntimeError."""

    def __init__(self, device: int = 0):
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.8
        except ImportError:
            try:
                from cuda import cudart  # cuda-python < 12.8
            except ImportError as exc:
                raise TensorRTMissing(f"the tensorrt engine cannot import cuda-python ({exc}); {INSTALL_HINT}") from None
        self.rt = cudart
        self.device = device
        self._check(cudart.cudaSetDevice(device), "cudaSetDevice")

    def _check(self, result, what: str):
        err, *values = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            _, text = self.rt.cudaGetErrorString(err)
            raise RuntimeError(f"{what} failed: {text.decode() if isinstance(text, bytes) else text}")
        return values[0] if len(values) == 1 else values

    def gpu(self) -> tuple[str, str]:
        """(GPU name, compute capability 'major.minor')."""
        prop = self._check(self.rt.cudaGetDeviceProperties(self.device), "cudaGetDeviceProperties")
        name = prop.name.decode(errors="ignore") if isinstance(prop.name, bytes) else str(prop.name)
        return name.strip("\x00 ").strip(), f"{prop.major}.{prop.minor}"

    def malloc(self, nbytes: int) -> int:
        return int(self._check(self.rt.cudaMalloc(int(nbytes)), "cudaMalloc"))

    def free(self, ptr: int) -> None:
        if ptr:
            self._check(self.rt.cudaFree(ptr), "cudaFree")

    def stream(self):
        return self._check(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    def destroy_stream(self, stream) -> None:
        self._check(self.rt.cudaStreamDestroy(stream), "cudaStreamDestroy")

    def h2d(self, dst: int, src: np.ndarray, stream) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, stream), "cudaMemcpyAsync H2D")

    def d2h(self, dst: np.ndarray, src: int, stream) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, stream), "cudaMemcpyAsync D2H")

    def sync(self, stream) -> None:
        self._check(self.rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")


# ---------------------------------------------------------------------------------------------- build


def builder_options(workspace_gb: float = 4.0, tf32: bool = True) -> dict:
    """The builder settings besides the profile that change the plan (they go into the cache key)."""
    return {"workspace_bytes": int(workspace_gb * (1 << 30)), "tf32": bool(tf32)}


def _network_flags(trt) -> int:
    """Strongly typed: 10.x needs the flag; in 11.x strong typing is always on (the flag is deprecated)."""
    if parse_version(trt.__version__)[0] >= 11:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def _load_timing_cache(config, path: Path | None):
    """The builder's timing cache, from `path` when it is valid for this device; an empty one otherwise."""
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    if config.set_timing_cache(cache, False):  # ignore_mismatch=False: another device's cache is refused
        return cache
    log.warning("TensorRT: timing cache %s does not fit this device or version; starting an empty one", path)
    cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, False):
        raise RuntimeError("TensorRT refused an empty timing cache")
    return cache


def build_plan(onnx_path: str | Path, profile: ShapeProfile, options: dict,
               timing_cache: str | Path | None = None) -> tuple[bytes, dict]:
    """Serialized plan for `onnx_path` (strongly typed) and the builder settings for the sidecar.

    `options` is `builder_options(...)`. The timing cache at `timing_cache` is read first and written
    back (temp file + rename) only after a successful build.
    """
    trt = _import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors or 'no parser error given'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options["workspace_bytes"]))
    if not options.get("tf32", True):
        config.clear_flag(trt.BuilderFlag.TF32)  # TF32 is on by default; off gives IEEE fp32 matmuls
    trt_profile = builder.create_optimization_profile()
    trt_profile.set_shape(INPUT_NAME, *profile)
    config.add_optimization_profile(trt_profile)
    timing_path = Path(timing_cache) if timing_cache else None
    _load_timing_cache(config, timing_path)

    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path}; see the TensorRT log above")
    settings = {"profile": [list(s) for s in profile], "options": dict(options),
                "build_seconds": round(time.perf_counter() - start, 1), "tensorrt": trt.__version__}
    if timing_path is not None:
        cache = config.get_timing_cache()
        if cache is None:
            log.warning("TensorRT: no timing cache to write after the build")
        else:
            write_atomic(timing_path, bytes(cache.serialize()))
    return bytes(plan), settings


def _read_onnx(onnx_path: Path):
    """(ModelMeta, precision) of one of our ONNX files, or a ValueError of one line."""
    from ..export import read_onnx_metadata
    from ..precision import file_precision

    if not onnx_path.is_file():
        raise FileNotFoundError(f"{onnx_path}: no such ONNX file")
    try:
        meta, props = read_onnx_metadata(onnx_path)
    except ValueError:
        raise
    except Exception as exc:  # protobuf's DecodeError for a corrupt file
        raise ValueError(f"{onnx_path}: not a readable ONNX file ({type(exc).__name__})") from None
    return meta, file_precision(props)


def _check_precision(asked: str | None, actual: str, onnx_path: Path) -> None:
    if asked is not None and asked != actual:
        raise ValueError(f"precision {asked!r} asked for, but {onnx_path.name} is {actual}: the precision is carried "
                         f"by the ONNX file (make one with `depth-anything-ros export precision --precision {asked}`)")


def _self_check_plan(plan_path: Path | None, plan_bytes: bytes | None, onnx_path: Path, profile, cuda,
                     meta) -> SelfCheck:
    engine = TensorRTEngine(plan_path, meta=meta, cuda=cuda, plan_bytes=plan_bytes)
    try:
        size = tuple(int(v) for v in profile[1][2:])
        return run_self_check(engine.infer, onnx_path, size)
    finally:
        engine.close()


def _require_passing(check: dict, plan: Path) -> None:
    if not check.get("ok"):
        raise SelfCheckError(f"TensorRT plan {plan.name} failed its self-check: {check.get('reason', '?')}")


def build_cached(onnx_path: str | Path, cache_dir: str | Path | None = None, output: str | Path | None = None,
                 input_size: tuple[int, int] | None = None, max_batch: int = 1, rebuild: bool = False,
                 cuda: "CudaRuntime | None" = None, workspace_gb: float = 4.0, tf32: bool = True,
                 precision: str | None = None, profile: ShapeProfile | None = None,
                 options: dict | None = None) -> Path:
    """Path of a self-checked plan for `onnx_path` on this GPU: from the cache when its key matches, else built.

    `output` writes the plan (and its sidecar) there instead of the cache folder; the timing cache
    still lives in the cache folder. `precision`, when given, must be the file's. `profile` and
    `options` (recorded settings of an earlier build) override `input_size`/`max_batch` and
    `workspace_gb`/`tf32`. A plan is returned only when its self-check on this device passed
    (SelfCheckError otherwise); a new plan reaches its final path only after the build succeeded.
    """
    trt = _import_tensorrt()
    policy = version_policy(trt.__version__)
    if policy.warning:
        log.warning(policy.warning)
    onnx_path = Path(onnx_path)
    meta, file_prec = _read_onnx(onnx_path)
    _check_precision(precision, file_prec, onnx_path)
    cuda = cuda or CudaRuntime()
    gpu_name, capability = cuda.gpu()
    device = device_id(gpu_name, capability, cuda.device)
    if profile is None:
        shape = onnx_input_shape(onnx_path)
        if input_size is None and min(shape[2:]) < 0 and meta.input_size:
            input_size = tuple(meta.input_size)  # dynamic file: its recorded preferred size
            log.info("TensorRT: dynamic %s built for its recorded size %dx%d", onnx_path.name, *input_size)
        profile = resolve_profile(shape, input_size, max_batch)
    profile = tuple(tuple(int(v) for v in s) for s in profile)
    options = dict(options) if options is not None else builder_options(workspace_gb, tf32)
    key = EngineKey(gpu_name, capability, trt.__version__, file_prec, format_profile(profile),
                    sha256_file(onnx_path), canonical_options(options))
    cache = EngineCache(cache_dir)
    target = Path(output) if output else cache.plan_path(key, onnx_path.stem)
    if not rebuild:
        side = read_sidecar(target) if target.is_file() else None
        if side is not None and side.key == key:
            found: Path | None = target
        elif output:
            found = None
        else:
            lookup = cache.lookup(key, onnx_path.stem)
            found = lookup.plan
            if found is None:
                log.warning("TensorRT: %s", lookup.reason)
        if found is not None:
            side = read_sidecar(found)
            record = side.self_checks.get(device)
            if record is None:  # first load on this device
                record = _self_check_plan(found, None, onnx_path, profile, cuda, meta).to_dict()
                side.self_checks[device] = record
                write_sidecar(found, side)
            _require_passing(record, found)
            log.info("TensorRT: using %s", found)
            return found
    plan, settings = build_plan(onnx_path, profile, options, timing_cache=cache.timing_cache_path(key))
    check = _self_check_plan(None, plan, onnx_path, profile, cuda, meta)
    sidecar = PlanSidecar(key, meta.to_json(), str(onnx_path.resolve()), settings, {device: check.to_dict()})
    write_plan(target, plan, sidecar)  # recorded even when the check failed: no rebuild loop, never used
    _require_passing(check.to_dict(), target)  # the caller reports a failure (one ERROR line)
    log.info("TensorRT: built %s in %.0f s; %s", target, settings["build_seconds"], check.line())
    return target


# ---------------------------------------------------------------------------------------------- run


class TensorRTEngine(Engine):
    """Runs a deserialized plan with named I/O tensors and `execute_async_v3` on its own stream.

    Construct it through `from_path` (which builds, checks and self-checks); the constructor itself
    loads a plan file (or `plan_bytes`) as it is.
    """

    name = "tensorrt"

    def __init__(self, plan_path: str | Path | None, meta=None, cuda: "CudaRuntime | None" = None,
                 plan_bytes: bytes | None = None):
        from ...metadata import ModelMeta

        trt = _import_tensorrt()
        self.trt = trt
        self.cuda = cuda or CudaRuntime()
        self.plan_path = Path(plan_path) if plan_path is not None else None
        side = read_sidecar(self.plan_path) if self.plan_path is not None else None
        if meta is None:
            if side is None:
                raise ValueError(f"{self.plan_path}: no sidecar {self.plan_path.name}.json with the model metadata; "
                                 "build plans with `depth-anything-ros export tensorrt`")
            meta = ModelMeta.from_json(side.model_meta)
        self.meta = meta
        self.sidecar = side
        self.self_check: dict | None = None
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        data = plan_bytes if plan_bytes is not None else self.plan_path.read_bytes()
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise RuntimeError(f"{self.plan_path or 'plan'}: TensorRT could not deserialize it (built by another version?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if INPUT_NAME not in names or OUTPUT_NAME not in names:
            raise ValueError(f"{self.plan_path}: expected tensors '{INPUT_NAME}' and '{OUTPUT_NAME}', found {names}")
        if self.engine.get_tensor_dtype(OUTPUT_NAME) != trt.float32 or self.engine.get_tensor_dtype(INPUT_NAME) != trt.float32:
            raise ValueError(f"{self.plan_path}: expected float32 I/O tensors")
        lo, _, hi = self.engine.get_tensor_profile_shape(INPUT_NAME, 0)
        self.input_size = (int(lo[2]), int(lo[3])) if tuple(lo[2:]) == tuple(hi[2:]) else None
        self._min_shape, self._max_shape = tuple(int(v) for v in lo), tuple(int(v) for v in hi)
        self.stream = self.cuda.stream()
        self._in_ptr = self._out_ptr = 0
        self._capacity = self._out_elems = 0  # elements of the allocated input / output buffers

    @classmethod
    def from_path(cls, model_path: str | Path, cache_dir: str | Path | None = None,
                  input_size: tuple[int, int] | None = None, max_batch: int = 1, rebuild: bool = False,
                  device: int | str = 0, meta=None, precision: str | None = None, workspace_gb: float = 4.0,
                  tf32: bool = True, cuda: "CudaRuntime | None" = None) -> "TensorRTEngine":
        """From an `.onnx` (built or cached, self-checked) or a `.plan` (checked against this GPU and TensorRT).

        `precision`, when given, must equal the file's (it is carried by the ONNX file). A `.plan`
        from another GPU / TensorRT is rebuilt from its recorded ONNX with its recorded settings.
        `meta` (a ModelMeta) is needed only for a plan without a sidecar (e.g. built by trtexec).
        Raises SelfCheckError when the plan failed its comparison with ONNX Runtime.
        """
        trt = _import_tensorrt()
        index = int(str(device).split(":")[-1]) if str(device) not in ("cuda", "") else 0
        cuda = cuda or CudaRuntime(index)
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        if path.suffix != ".plan":
            plan = build_cached(path, cache_dir, input_size=input_size, max_batch=max_batch, rebuild=rebuild,
                                cuda=cuda, workspace_gb=workspace_gb, tf32=tf32, precision=precision)
            return cls(plan, cuda=cuda)
        policy = version_policy(trt.__version__)
        if policy.warning:
            log.warning(policy.warning)
        side, why = check_plan_file(path, cuda.gpu(), trt.__version__)
        if side is None:
            if policy.require_self_check:
                raise SelfCheckError(f"{path.name} has no sidecar, so no self-check record, and TensorRT "
                                     f"{trt.__version__} plans are used only after a passing self-check")
            log.warning("TensorRT: %s has no sidecar; cannot check its GPU / TensorRT version or self-check it", path)
            return cls(path, meta=meta, cuda=cuda)
        _check_precision(precision, side.key.precision, path)
        onnx = Path(side.onnx_path)
        if not (onnx.is_file() and sha256_file(onnx) == side.key.onnx_sha256):
            if why is not None:
                raise RuntimeError(f"{path} cannot run here ({why}) and its ONNX {onnx} is gone or changed; "
                                   "rebuild it with `depth-anything-ros export tensorrt`")
            record = side.self_checks.get(device_id(*cuda.gpu(), cuda.device))
            if record is not None:
                _require_passing(record, path)
            elif policy.require_self_check:
                raise SelfCheckError(f"{path.name}: its ONNX {onnx} is gone, so it cannot be self-checked on this "
                                     f"device, and TensorRT {trt.__version__} plans need a passing self-check")
            else:
                log.warning("TensorRT: %s: its ONNX %s is gone; loading it without a self-check", path.name, onnx)
            return cls(path, meta=meta, cuda=cuda)
        if why is not None:
            log.warning("TensorRT: %s not usable: %s; rebuilding from %s with its recorded settings", path.name, why, onnx)
        # same path: a matching plan is self-checked on first use here; a mismatched one is rebuilt
        # with the profile and options it was first built with
        build_cached(onnx, output=path, cuda=cuda, rebuild=why is not None, profile=side.builder["profile"],
                     options=side.builder.get("options"))
        return cls(path, meta=meta, cuda=cuda)

    def _ensure_buffers(self, batch_shape: tuple[int, ...], out_elems: int) -> None:
        need = int(np.prod(batch_shape))
        if need <= self._capacity and self._out_elems >= out_elems:
            return
        self.cuda.free(self._in_ptr)
        self.cuda.free(self._out_ptr)
        self._in_ptr = self.cuda.malloc(need * 4)
        self._out_ptr = self.cuda.malloc(out_elems * 4)
        self._capacity, self._out_elems = need, out_elems

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        shape = tuple(batch.shape)
        if len(shape) != 4 or any(s < lo or s > hi for s, lo, hi in zip(shape, self._min_shape, self._max_shape)):
            raise ValueError(f"batch shape {shape} is outside the plan's profile {self._min_shape}..{self._max_shape}")
        self.context.set_input_shape(INPUT_NAME, shape)
        out_shape = tuple(self.context.get_tensor_shape(OUTPUT_NAME))
        self._ensure_buffers(shape, int(np.prod(out_shape)))
        out = np.empty(out_shape, dtype=np.float32)
        self.context.set_tensor_address(INPUT_NAME, self._in_ptr)
        self.context.set_tensor_address(OUTPUT_NAME, self._out_ptr)
        self.cuda.h2d(self._in_ptr, batch, self.stream)
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        self.cuda.d2h(out, self._out_ptr, self.stream)
        self.cuda.sync(self.stream)
        return out

    def describe(self) -> dict:
        info = {"engine": self.name, "device": "cuda", "tensorrt": self.trt.__version__,
                "plan": self.plan_path.name if self.plan_path else None,
                "input_size": list(self.input_size) if self.input_size else "dynamic"}
        if self.sidecar is not None:
            info.update(gpu=self.sidecar.key.gpu_name, precision=self.sidecar.key.precision,
                        builder=self.sidecar.builder.get("options"))
        return info

    def close(self) -> None:
        if getattr(self, "cuda", None) is None:
            return
        self.cuda.free(self._in_ptr)
        self.cuda.free(self._out_ptr)
        self._in_ptr = self._out_ptr = 0
        if getattr(self, "stream", None) is not None:
            self.cuda.destroy_stream(self.stream)
            self.stream = None
        self.context = None
        self.engine = None


def describe_plan(plan_path: str | Path) -> str:
    """The sidecar of a plan as pretty JSON (for `export tensorrt` output)."""
    side = read_sidecar(plan_path)
    return side.to_json() if side else json.dumps({"plan": str(plan_path), "sidecar": None})
