"""Self-check of a built engine: its output against ONNX Runtime (CPU) on the fp32 source, on real photos.

TensorRT releases have produced wrong output for this model family (see docs/engines.md), so every
plan is compared with the reference after it is built and the first time it is loaded on a device,
and the result is recorded in the plan's sidecar. A plan whose check fails is never used.

Tolerances (plan vs fp32 ONNX in ORT CPU, per photo): fp32 plans run matmuls in TF32 by default, so
max |a - b| / max |b| <= 1e-2; fp16 <= 3e-2 (the ONNX file itself was verified at 1e-2 on the CPU,
GPU fp16 arithmetic adds its own rounding); int8 AbsRel <= 0.05 and delta1 >= 0.95, as for the file.
"""
from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ...metadata import sha256_file
from ..precision import SOURCE_NAME_KEY, SOURCE_SHA_KEY, Agreement, agreement, file_precision, photos
from ..preprocess import Preprocessor

PLAN_MAX_REL = {"fp32": 1e-2, "fp16": 3e-2}
PLAN_INT8_ABSREL, PLAN_INT8_DELTA1 = 0.05, 0.95


class SelfCheckError(RuntimeError):
    """A plan failed (or could not run) its self-check; the message is one line and says what failed."""


def plan_ok(precision: str, c: Agreement) -> bool:
    if not all(math.isfinite(v) for v in (c.max_rel, c.abs_rel, c.delta1)):
        return False
    if precision == "int8":
        return c.abs_rel <= PLAN_INT8_ABSREL and c.delta1 >= PLAN_INT8_DELTA1
    return c.max_rel <= PLAN_MAX_REL[precision]


def tolerance_text(precision: str) -> str:
    if precision == "int8":
        return f"AbsRel <= {PLAN_INT8_ABSREL:g} and delta1 >= {PLAN_INT8_DELTA1:g}"
    return f"max relative error <= {PLAN_MAX_REL[precision]:g}"


@dataclass
class SelfCheck:
    """Result of one self-check, as recorded in the sidecar."""

    ok: bool
    precision: str
    size: tuple[int, int]
    tolerance: str
    reference: str
    figures: list[dict] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        return d

    def line(self) -> str:
        if self.ok:
            worst = max(self.figures, key=lambda f: f["max_rel"]) if self.figures else {}
            return (f"self-check passed ({self.precision} vs {self.reference}, {len(self.figures)} photos, "
                    f"worst max rel {worst.get('max_rel', math.nan):.3g}; {self.tolerance})")
        return f"self-check FAILED: {self.reason}"


def device_id(gpu_name: str, capability: str, index: int) -> str:
    """Identity of one physical device for the self-check record: host, CUDA index, GPU model."""
    return f"{platform.node()}:cuda{index}:{gpu_name}:sm{capability}"


def fp32_source(onnx_path: str | Path) -> Path:
    """The fp32 file a variant was made from (recorded name beside it, sha256 checked); the file itself if fp32."""
    import onnx

    onnx_path = Path(onnx_path)
    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    if file_precision(props) == "fp32":
        return onnx_path
    name, sha = props.get(SOURCE_NAME_KEY), props.get(SOURCE_SHA_KEY)
    source = onnx_path.with_name(name) if name else None
    if source is None or not source.is_file():
        raise SelfCheckError(f"{onnx_path.name}: the self-check needs its fp32 source {name or '(not recorded)'} "
                             f"beside it in {onnx_path.parent}")
    if sha and sha256_file(source) != sha:
        raise SelfCheckError(f"{onnx_path.name}: {source.name} is not the fp32 file it was made from (sha256 differs)")
    return source


def run_self_check(infer, onnx_path: str | Path, size: tuple[int, int],
                   images: Sequence[tuple[str, np.ndarray]] | None = None) -> SelfCheck:
    """Compare `infer` (float32 (1,3,h,w) -> (1,h,w)) with ORT CPU on the fp32 source of `onnx_path` at `size`."""
    import onnx
    import onnxruntime as ort

    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    precision = file_precision(props)
    tol = tolerance_text(precision)
    try:
        source = fp32_source(onnx_path)
    except SelfCheckError as exc:
        return SelfCheck(False, precision, size, tol, "fp32 ONNX (ONNX Runtime CPU)", reason=str(exc))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    pre = Preprocessor(size)
    check = SelfCheck(True, precision, size, tol, f"{source.name} (ONNX Runtime CPU)")
    for name, rgb in images if images is not None else photos():
        batch = pre(rgb)
        ref = session.run(["depth"], {"image": batch})[0]
        try:
            out = np.asarray(infer(batch))
        except Exception as exc:  # a plan that cannot run fails its check
            check.ok, check.reason = False, f"the plan did not run on {name}: {str(exc).splitlines()[0]}"
            return check
        figures = agreement(name, out, ref)
        check.figures.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(figures).items()})
        if not plan_ok(precision, figures) and check.ok:
            check.ok = False
            check.reason = (f"{precision} plan differs from {source.name} in ONNX Runtime on {name} at "
                            f"{size[0]}x{size[1]}: max rel {figures.max_rel:.3g}, AbsRel {figures.abs_rel:.3g}, "
                            f"delta1 {figures.delta1:.3f} (tolerance: {tol})")
    return check


def format_record(check: SelfCheck) -> str:
    return json.dumps(check.to_dict(), sort_keys=True)
