"""fp16 and int8 variants of an exported ONNX file, made and verified on the CPU.

The precision lives in the ONNX graph, so every engine (ONNX Runtime, a strongly typed TensorRT
network) runs what the file says:

- fp16: onnxconverter-common's `convert_float_to_float16` with an op block list: the ops in
  `FP16_KEEP_FP32` stay fp32 and the graph input `image` / output `depth` stay float32 (Cast nodes
  at the boundary).
- int8: explicit quantization, ONNX Runtime's static QDQ quantization (`quantize_static`,
  QuantizeLinear/DequantizeLinear pairs, symmetric int8 activations and per-channel symmetric int8
  weights, the form TensorRT's explicit quantization reads), calibrated on real frames.

Every variant is compared in ONNX Runtime (CPU) with the fp32 file it came from on real photos, and
the figures go into its metadata (`precision`, `source_sha256`, `verification`, for int8 also
`calibration`). Why these tools and tolerances: docs/engines.md.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..metadata import sha256_file
from .engines.calibration import CalibrationSet, calibration_set  # noqa: F401  (re-exported)
from .preprocess import Preprocessor

PRECISIONS = ("fp32", "fp16", "int8")
PRECISION_KEY = "precision"
SOURCE_SHA_KEY = "source_sha256"
VERIFICATION_KEY = "verification"
CALIBRATION_KEY = "calibration"
SOURCE_NAME_KEY = "source_onnx"

# Kept in fp32 in the fp16 file: LayerNormalization and Softmax (fp16 overflow / accuracy on the GPU)
# and Resize (the converter would turn its `scales` input into fp16, which ONNX forbids). Adding
# Erf/Pow/ReduceMean/Sigmoid changed nothing measurable (docs/engines.md).
FP16_KEEP_FP32 = ("LayerNormalization", "Softmax", "Resize")
# Ops that get Q/DQ on their inputs: the matrix products (TensorRT runs the rest in the precision
# the graph gives it).
INT8_OPS = ("Conv", "MatMul", "Gemm", "ConvTranspose")
CALIBRATION_METHODS = ("percentile", "minmax", "entropy")
# percentile (99.999 %): as good as min/max on the demo model (docs/engines.md) and less exposed to one
# outlier frame widening every scale.
DEFAULT_METHOD = "percentile"

# Tolerances against the fp32 file on real photos (docs/engines.md has the measured figures).
FP16_MAX_REL = 1e-2      # max |fp16 - fp32| / max |fp32|
INT8_MAX_ABSREL = 0.05   # mean |int8 - fp32| / |fp32|
INT8_MIN_DELTA1 = 0.95   # share of pixels with max(a/b, b/a) < 1.25


class PrecisionError(RuntimeError):
    """A conversion or its verification failed; the message is one line."""


def photos() -> list[tuple[str, np.ndarray]]:
    """The four real photos every variant is verified on (scikit-image: astronaut, chelsea, coffee, rocket)."""
    try:
        from skimage import data
    except ImportError:
        raise PrecisionError("scikit-image is not installed: it provides the verification photos") from None
    return [(n, np.ascontiguousarray(getattr(data, n)()[..., :3])) for n in ("astronaut", "chelsea", "coffee", "rocket")]


def file_precision(props: dict[str, str]) -> str:
    """The precision an ONNX file's metadata_props record; files without the key are fp32 exports."""
    value = props.get(PRECISION_KEY, "fp32")
    if value not in PRECISIONS:
        raise ValueError(f"unknown precision {value!r} in the ONNX metadata (expected {', '.join(PRECISIONS)})")
    return value


# ---------------------------------------------------------------------------------------------- figures


@dataclass
class Agreement:
    """One photo: the variant's output against the fp32 output."""

    image: str
    max_rel: float   # max |a - b| / max |b|
    abs_rel: float   # mean |a - b| / |b| over pixels with b > 0
    delta1: float    # share of pixels with max(a/b, b/a) < 1.25

    def ok(self, precision: str) -> bool:
        if not all(math.isfinite(v) for v in (self.max_rel, self.abs_rel, self.delta1)):
            return False
        if precision == "fp16":
            return self.max_rel <= FP16_MAX_REL
        if precision == "int8":
            return self.abs_rel <= INT8_MAX_ABSREL and self.delta1 >= INT8_MIN_DELTA1
        return self.max_rel <= 1e-4


def agreement(name: str, out: np.ndarray, ref: np.ndarray) -> Agreement:
    """Figures of `out` against the reference `ref` (same shape; the model outputs are positive)."""
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        return Agreement(name, math.inf, math.inf, 0.0)
    err = np.abs(out - ref)
    scale = float(np.abs(ref).max()) or 1.0
    pos = ref > 0
    if not pos.any():
        return Agreement(name, float(err.max()) / scale, math.inf, 0.0)
    b, a = ref[pos], out[pos]
    ratio = np.maximum(a / b, b / np.where(a > 0, a, np.inf))
    ratio = np.where(a > 0, ratio, np.inf)
    return Agreement(name, float(err.max()) / scale, float(np.mean(np.abs(a - b) / b)), float(np.mean(ratio < 1.25)))


def tolerance_text(precision: str) -> str:
    if precision == "fp16":
        return f"max relative error <= {FP16_MAX_REL:g}"
    if precision == "int8":
        return f"AbsRel <= {INT8_MAX_ABSREL:g} and delta1 >= {INT8_MIN_DELTA1:g}"
    return "max relative error <= 1e-4"


@dataclass
class PrecisionReport:
    """Variant vs fp32 in ONNX Runtime CPU on real photos, plus the CPU speed of both (same run)."""

    precision: str
    size: tuple[int, int]
    checks: list[Agreement] = field(default_factory=list)
    fp32_ms: float = math.nan
    variant_ms: float = math.nan

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok(self.precision) for c in self.checks)

    @property
    def worst(self) -> Agreement:
        return max(self.checks, key=lambda c: (c.max_rel if self.precision == "fp16" else c.abs_rel))

    def to_dict(self) -> dict:
        return {"precision": self.precision, "reference": "fp32 source, ONNX Runtime CPU", "size": list(self.size),
                "tolerance": tolerance_text(self.precision), "ok": self.ok,
                "ort_cpu_ms": {"fp32": round(self.fp32_ms, 2), self.precision: round(self.variant_ms, 2)},
                "images": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(c).items()}
                           for c in self.checks]}

    def lines(self) -> list[str]:
        out = [f"{self.precision} vs fp32 (ONNX Runtime CPU, {self.size[0]}x{self.size[1]}; "
               f"tolerance: {tolerance_text(self.precision)})"]
        for c in self.checks:
            out.append(f"  {c.image:<16} max rel {c.max_rel:.3g}  AbsRel {c.abs_rel:.3g}  delta1 {c.delta1:.4f}  "
                       f"{'ok' if c.ok(self.precision) else 'FAIL'}")
        out.append(f"  ORT CPU median: fp32 {self.fp32_ms:.1f} ms, {self.precision} {self.variant_ms:.1f} ms")
        return out


def _session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _network_size(session, props: dict[str, str]) -> tuple[int, int]:
    h, w = session.get_inputs()[0].shape[2:]
    if isinstance(h, int) and isinstance(w, int):
        return h, w
    text = props.get("input_size", "")
    if "x" not in text:
        raise PrecisionError("dynamic ONNX file without a recorded input_size")
    a, b = text.split("x")
    return int(a), int(b)


def _interleaved_median_ms(a, b, batch: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median ms of sessions `a` and `b`, run alternately so both see the same machine load."""
    times: tuple[list, list] = ([], [])
    for sess in (a, b):
        sess.run(["depth"], {"image": batch})  # warm-up
    for _ in range(repeats):
        for sess, out in zip((a, b), times):
            start = time.perf_counter()
            sess.run(["depth"], {"image": batch})
            out.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times[0])), float(np.median(times[1]))


def compare_onnx(variant: str | Path, fp32: str | Path, precision: str, images: Sequence[tuple[str, np.ndarray]],
                 timing_repeats: int = 3, threads: int | None = None) -> PrecisionReport:
    """Run `variant` and its `fp32` source in ONNX Runtime CPU on `images` (name, RGB uint8)."""
    ref_sess, var_sess = _session(fp32, threads), _session(variant, threads)
    props = ref_sess.get_modelmeta().custom_metadata_map
    size = _network_size(ref_sess, props)
    pre = Preprocessor(size)
    report = PrecisionReport(precision, size)
    batches = []
    for name, rgb in images:
        batch = pre(rgb)
        batches.append(batch)
        ref = ref_sess.run(["depth"], {"image": batch})[0]
        out = var_sess.run(["depth"], {"image": batch})[0]
        report.checks.append(agreement(name, out, ref))
    if timing_repeats and batches:
        report.fp32_ms, report.variant_ms = _interleaved_median_ms(ref_sess, var_sess, batches[0], timing_repeats)
    return report


# ---------------------------------------------------------------------------------------------- calibration


# ---------------------------------------------------------------------------------------------- conversion


def _load(path: str | Path):
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends
        raise PrecisionError(f"{path}: not a readable ONNX file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    props = {p.key: p.value for p in model.metadata_props}
    from .export import meta_from_props

    try:
        meta_from_props(props, str(path))
        current = file_precision(props)
    except ValueError as exc:
        raise PrecisionError(str(exc)) from None
    if current != "fp32":
        raise PrecisionError(f"{path} is already {current}; convert from the fp32 export")
    return model, props


def _set_props(model, props: dict[str, str]) -> None:
    existing = {p.key: p for p in model.metadata_props}
    for key, value in props.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value


def _save_atomic(model, output: Path) -> None:
    import onnx

    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=output.name + ".", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def convert_fp16(model, keep_fp32: Iterable[str] = FP16_KEEP_FP32):
    """fp16 copy of an fp32 ModelProto: `keep_fp32` ops stay fp32, graph I/O stays float32."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # one warning per weight below fp16's smallest normal: expected
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=list(keep_fp32),
                                                disable_shape_infer=False)


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a CalibrationSet."""

    def __init__(self, frames: list[np.ndarray]):
        self._it = iter(frames)

    def get_next(self):
        batch = next(self._it, None)
        return None if batch is None else {"image": batch}

    def rewind(self):  # pragma: no cover - not called by quantize_static's single pass
        pass


def activation_matmuls(path: str | Path) -> list[str]:
    """MatMul nodes with no weight operand: attention's q·kᵀ and softmax·v, kept in float.

    Quantizing them costs most of the int8 error on the demo model (softmax output is non-negative,
    so a symmetric int8 scale wastes half its range); see docs/engines.md for the measurement.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = {t.name for t in model.graph.initializer}
    weights |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and not any(i in weights for i in n.input)]


def quantize_int8(fp32_path: str | Path, output: str | Path, calib: CalibrationSet, method: str = DEFAULT_METHOD) -> None:
    """Static QDQ int8 of `fp32_path` calibrated on `calib`, written to `output` (no metadata added here)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import CalibrationDataReader
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise PrecisionError(f"calibration method {method!r}: expected one of {', '.join(CALIBRATION_METHODS)}")

    class Reader(_Reader, CalibrationDataReader):
        pass

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        # (the histogram calibrators print their progress to stdout)
        prepared = Path(tmp) / "prepared.onnx"
        # shape inference + ORT's basic optimisations first (quantize_static's documented preparation)
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(output), Reader(calib.frames), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=list(INT8_OPS), calibrate_method=methods[method],
                        nodes_to_exclude=activation_matmuls(prepared),
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                                       "QuantizeBias": False})  # TensorRT takes float biases


def make_variant(fp32_path: str | Path, output: str | Path, precision: str,
                 images: Sequence[tuple[str, np.ndarray]], calib: CalibrationSet | None = None,
                 method: str = DEFAULT_METHOD, keep_fp32: Iterable[str] = FP16_KEEP_FP32,
                 timing_repeats: int = 3, progress: Callable[[str], None] | None = None,
                 threads: int | None = None) -> PrecisionReport:
    """Write the `precision` variant of the fp32 export `fp32_path` to `output`, verified on `images`.

    The file is written only when the verification passes (PrecisionError otherwise, nothing left at
    `output`); its metadata gets `precision`, `source_sha256`, `verification` (and `calibration`).
    """
    import onnx

    if precision not in PRECISIONS:
        raise PrecisionError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        raise PrecisionError("fp32 is the export itself; nothing to convert")
    if not images:
        raise PrecisionError("no verification images")
    fp32_path, output = Path(fp32_path), Path(output)
    model, props = _load(fp32_path)
    source_sha = sha256_file(fp32_path)
    new_props = {PRECISION_KEY: precision, SOURCE_SHA_KEY: source_sha, SOURCE_NAME_KEY: fp32_path.name}
    with tempfile.TemporaryDirectory(dir=output.parent if output.parent.is_dir() else None) as tmp:
        candidate = Path(tmp) / "variant.onnx"
        if precision == "fp16":
            converted = convert_fp16(model, keep_fp32)
            new_props["fp16_keep_fp32"] = ",".join(keep_fp32)
            _set_props(converted, {**props, **new_props})
            onnx.save(converted, str(candidate))
        else:
            if calib is None:
                raise PrecisionError("int8 needs calibration frames (--calib folder:DIR, rosbag:PATH or synthetic:N)")
            if progress:
                progress(f"calibrating on {calib.count} frames from {calib.source} ({method})")
            quantize_int8(fp32_path, candidate, calib, method)
            new_props[CALIBRATION_KEY] = json.dumps(calib.identity(method), sort_keys=True)
            quantized = onnx.load(str(candidate))
            # quantize_static keeps the source's metadata_props; make sure ours are complete
            _set_props(quantized, {**props, **new_props})
            onnx.save(quantized, str(candidate))
        if progress:
            progress(f"verifying {precision} against fp32 on {len(images)} photos")
        report = compare_onnx(candidate, fp32_path, precision, images, timing_repeats, threads)
        if not report.ok:
            c = report.worst
            raise PrecisionError(f"{precision} output differs from fp32 beyond tolerance on {c.image}: max rel "
                                 f"{c.max_rel:.3g}, AbsRel {c.abs_rel:.3g}, delta1 {c.delta1:.3f} "
                                 f"({tolerance_text(precision)}); {output} not written")
        final = onnx.load(str(candidate))
        _set_props(final, {VERIFICATION_KEY: json.dumps(report.to_dict(), sort_keys=True)})
        _save_atomic(final, output)
    return report
