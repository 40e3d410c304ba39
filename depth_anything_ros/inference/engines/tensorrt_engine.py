"""TensorRT engine: build a plan from ONNX (fp32 / fp16 / int8), cache it, run it.

Written against the TensorRT 10 Python API (`tensorrt`) and cuda-python's runtime bindings
(`cuda.bindings.runtime`, or `cuda.cudart` in cuda-python < 12.8) for device memory and streams.

NOT RUN: no machine this code was written on had TensorRT or cuda-python; the logic that does not
need them (cache key, invalidation, version policy, calibration batches, sidecars) lives in
`tensorrt_cache.py` and `calibration.py` and is tested. See docs/engines.md.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from .base import Engine
from .calibration import CalibrationBatches
from .tensorrt_cache import (
    PRECISIONS,
    EngineCache,
    EngineKey,
    PlanSidecar,
    ShapeProfile,
    check_plan_file,
    format_profile,
    onnx_input_shape,
    read_sidecar,
    resolve_profile,
    sha256_file,
    version_warnings,
    write_plan,
)

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "depth"


def _import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise RuntimeError("the tensorrt engine needs the TensorRT 10 Python package (`pip install tensorrt` "
                           "on x86-64; JetPack provides it on Jetson)") from None
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
            except ImportError:
                raise RuntimeError("the tensorrt engine needs cuda-python (`pip install cuda-python`)") from None
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


def _make_calibrator(trt, batches: CalibrationBatches, cache_file: Path, cuda: CudaRuntime):
    """An IInt8EntropyCalibrator2 that feeds `batches` through one device buffer."""

    class FolderCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()  # the base __init__ must run (pybind trampoline)
            self._iter = iter(batches)
            self._buffer = cuda.malloc(batches.nbytes)
            self._stream = cuda.stream()

        def get_batch_size(self):
            return batches.batch_size

        def get_batch(self, names):
            batch = next(self._iter, None)
            if batch is None:
                return None
            cuda.h2d(self._buffer, batch, self._stream)
            cuda.sync(self._stream)
            return [self._buffer]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache):
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_bytes(bytes(cache))

        def release(self):
            cuda.free(self._buffer)
            cuda.destroy_stream(self._stream)
            self._buffer = 0

    return FolderCalibrator()


def build_plan(onnx_path: str | Path, precision: str = "fp16", profile: ShapeProfile | None = None,
               input_size: tuple[int, int] | None = None, max_batch: int = 1, calib_dir: str | Path | None = None,
               calib_batch: int = 8, timing_cache: str | Path | None = None, calib_cache: str | Path | None = None,
               workspace_gb: float = 4.0, fp32_norms: bool = True, cuda: CudaRuntime | None = None) -> tuple[bytes, dict]:
    """Serialized TensorRT plan for `onnx_path` and a dict of builder settings for the sidecar.

    fp16 keeps LayerNormalization and Softmax layers in fp32 by default (`fp32_norms`, spec §6.2);
    int8 needs `calib_dir` (images read through the same Preprocessor, at the opt shape) and also
    enables fp16 for layers TensorRT leaves unquantised. The timing cache at `timing_cache` is read
    before and written back after the build.
    """
    trt = _import_tensorrt()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8" and calib_dir is None:
        raise ValueError("int8 needs a calibration image folder (--calib-dir)")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    if profile is None:
        profile = resolve_profile(onnx_input_shape(onnx_path), input_size, max_batch)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    trt_profile = builder.create_optimization_profile()
    trt_profile.set_shape(INPUT_NAME, *profile)
    config.add_optimization_profile(trt_profile)

    settings = {"workspace_gb": workspace_gb, "profile": [list(s) for s in profile], "fp32_layers": []}
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
        if fp32_norms:
            pinned = []
            for i in range(network.num_layers):
                layer = network.get_layer(i)
                if layer.type in (trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX):
                    layer.precision = trt.float32
                    layer.set_output_type(0, trt.float32)
                    pinned.append(layer.name)
            if pinned:
                config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
            settings["fp32_layers"] = pinned
    calibrator = None
    if precision == "int8":
        cuda = cuda or CudaRuntime()
        batches = CalibrationBatches(calib_dir, profile[1][2:], batch_size=calib_batch)
        cache_file = Path(calib_cache) if calib_cache else Path(onnx_path).with_suffix(f".int8-{batches.fingerprint()}.calib")
        calibrator = _make_calibrator(trt, batches, cache_file, cuda)
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        calib_profile = builder.create_optimization_profile()
        calib_profile.set_shape(INPUT_NAME, *((batches.batch_size, 3, *profile[1][2:]),) * 3)
        config.set_calibration_profile(calib_profile)
        settings["calibration"] = {"folder": str(calib_dir), "images": len(batches.files),
                                   "batch": batches.batch_size, "fingerprint": batches.fingerprint()}

    timing_path = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(timing_path.read_bytes() if timing_path and timing_path.is_file() else b"")
    config.set_timing_cache(cache, False)  # ignore_mismatch=False: a cache from another GPU is not used

    start = time.perf_counter()
    try:
        plan = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.release()
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path} ({precision}); see the TensorRT log above")
    settings["build_seconds"] = round(time.perf_counter() - start, 1)
    if timing_path:
        timing_path.parent.mkdir(parents=True, exist_ok=True)
        timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(plan), settings


def _onnx_model_meta(onnx_path: Path) -> str:
    from ..export import read_onnx_metadata

    meta, _ = read_onnx_metadata(onnx_path)
    return meta.to_json()


def build_cached(onnx_path: str | Path, precision: str = "fp16", cache_dir: str | Path | None = None,
                 output: str | Path | None = None, input_size: tuple[int, int] | None = None, max_batch: int = 1,
                 calib_dir: str | Path | None = None, rebuild: bool = False, cuda: CudaRuntime | None = None,
                 **build_options) -> Path:
    """Path of a plan for `onnx_path` on this GPU: from the cache when its key matches, else built.

    `output` writes the plan (and its sidecar) there instead of the cache folder; the timing cache
    still lives in the cache folder. Logs why a cached plan is not used.
    """
    trt = _import_tensorrt()
    for warning in version_warnings(trt.__version__):
        log.warning(warning)
    cuda = cuda or CudaRuntime()
    onnx_path = Path(onnx_path)
    gpu_name, capability = cuda.gpu()
    probe_profile = resolve_profile(onnx_input_shape(onnx_path), input_size, max_batch)
    key = EngineKey(gpu_name, capability, trt.__version__, precision, format_profile(probe_profile),
                    sha256_file(onnx_path))
    cache = EngineCache(cache_dir)
    target = Path(output) if output else cache.plan_path(key, onnx_path.stem)
    if not rebuild:
        if output:
            side, why = check_plan_file(target, (gpu_name, capability), trt.__version__) if target.is_file() else (None, "absent")
            if side is not None and why is None and side.key == key:
                log.info("using plan %s", target)
                return target
        else:
            found = cache.lookup(key, onnx_path.stem)
            if found.plan is not None:
                log.info("TensorRT: %s", found.reason)
                return found.plan
            log.warning("TensorRT: %s", found.reason)
    plan, settings = build_plan(onnx_path, precision, profile=probe_profile, calib_dir=calib_dir,
                                timing_cache=cache.timing_cache_path(key), cuda=cuda, **build_options)
    sidecar = PlanSidecar(key, _onnx_model_meta(onnx_path), str(onnx_path.resolve()), settings)
    write_plan(target, plan, sidecar)
    log.info("TensorRT: built %s in %.0f s", target, settings["build_seconds"])
    return target


# ---------------------------------------------------------------------------------------------- run


class TensorRTEngine(Engine):
    """Runs a deserialized plan with named I/O tensors and `execute_async_v3` on its own stream."""

    name = "tensorrt"

    def __init__(self, plan_path: str | Path, meta=None, cuda: CudaRuntime | None = None):
        from ...metadata import ModelMeta

        trt = _import_tensorrt()
        self.trt = trt
        self.cuda = cuda or CudaRuntime()
        self.plan_path = Path(plan_path)
        side = read_sidecar(self.plan_path)
        if meta is None:
            if side is None:
                raise ValueError(f"{self.plan_path}: no sidecar {self.plan_path.name}.json with the model metadata; "
                                 "build plans with `depth-anything-ros export tensorrt`")
            meta = ModelMeta.from_json(side.model_meta)
        self.meta = meta
        self.sidecar = side
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(self.plan_path.read_bytes())
        if self.engine is None:
            raise RuntimeError(f"{self.plan_path}: TensorRT could not deserialize the plan (built by another version?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if INPUT_NAME not in names or OUTPUT_NAME not in names:
            raise ValueError(f"{self.plan_path}: expected tensors '{INPUT_NAME}' and '{OUTPUT_NAME}', found {names}")
        if self.engine.get_tensor_dtype(OUTPUT_NAME) != trt.float32 or self.engine.get_tensor_dtype(INPUT_NAME) != trt.float32:
            raise ValueError(f"{self.plan_path}: expected float32 I/O tensors")
        lo, _, hi = self.engine.get_tensor_profile_shape(INPUT_NAME, 0)
        self.input_size = (int(lo[2]), int(lo[3])) if tuple(lo[2:]) == tuple(hi[2:]) else None
        self._min_shape, self._max_shape = tuple(lo), tuple(hi)
        self.stream = self.cuda.stream()
        self._in_ptr = self._out_ptr = 0
        self._capacity = self._out_elems = 0  # elements of the allocated input / output buffers

    @classmethod
    def from_path(cls, model_path: str | Path, precision: str = "fp16", cache_dir: str | Path | None = None,
                  input_size: tuple[int, int] | None = None, max_batch: int = 1, calib_dir: str | Path | None = None,
                  rebuild: bool = False, device: int | str = 0, meta=None, **build_options) -> "TensorRTEngine":
        """From a `.plan` (checked against this GPU and TensorRT via its sidecar) or an `.onnx` (built or cached).

        `meta` (a ModelMeta) is needed only for a plan without a sidecar (e.g. built by trtexec).
        """
        trt = _import_tensorrt()
        index = int(str(device).split(":")[-1]) if str(device) not in ("cuda", "0", "") else 0
        cuda = CudaRuntime(index)
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        if path.suffix == ".onnx":
            plan = build_cached(path, precision, cache_dir, input_size=input_size, max_batch=max_batch,
                                calib_dir=calib_dir, rebuild=rebuild, cuda=cuda, **build_options)
            return cls(plan, cuda=cuda)
        for warning in version_warnings(trt.__version__):
            log.warning(warning)
        side, why = check_plan_file(path, cuda.gpu(), trt.__version__)
        if side is None:
            log.warning("TensorRT: %s has no sidecar; cannot check its GPU / TensorRT version", path)
        elif why is not None:
            onnx = Path(side.onnx_path)
            if not (onnx.is_file() and sha256_file(onnx) == side.key.onnx_sha256):
                raise RuntimeError(f"{path} cannot run here ({why}) and its ONNX {onnx} is gone or changed; "
                                   "rebuild it with `depth-anything-ros export tensorrt`")
            log.warning("TensorRT: %s not usable: %s; rebuilding from %s", path.name, why, onnx)
            h, w = (int(v) for v in side.builder["profile"][1][2:])
            build_cached(onnx, side.key.precision, output=path, input_size=(h, w), rebuild=True, cuda=cuda)
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
        info = {"engine": self.name, "device": "cuda", "tensorrt": self.trt.__version__, "plan": self.plan_path.name,
                "input_size": list(self.input_size) if self.input_size else "dynamic"}
        if self.sidecar is not None:
            info.update(gpu=self.sidecar.key.gpu_name, precision=self.sidecar.key.precision)
        return info

    def close(self) -> None:
        if getattr(self, "cuda", None) is None:
            return
        self.cuda.free(self._in_ptr)
        self.cuda.free(self._out_ptr)
        self._in_ptr = self._out_ptr = 0
        self.context = None
        self.engine = None


def describe_plan(plan_path: str | Path) -> str:
    """The sidecar of a plan as pretty JSON (for `export tensorrt` output)."""
    side = read_sidecar(plan_path)
    return side.to_json() if side else json.dumps({"plan": str(plan_path), "sidecar": None})
