"""ONNX export of a DepthAnything network, and its verification against PyTorch.

The exported graph takes the ImageNet-normalised batch `image` float32 (B, 3, H, W) and returns the
raw network output `depth` float32 (B, H, W) at the network size (resizing to the camera is done
outside, by the official rule of the model's version). The batch dimension is always dynamic; H and W
are fixed ("static", one file per camera size, the default) or symbolic multiples of 14 (`dynamic=True`).

Positional table (docs/inference.md):
- static files freeze the table the official inference computes for their size (`official`
  interpolation: bicubic with scale_factor (n + 0.1) / 37): a static file equals the checkpoint run by the
  official code, and no bicubic `Resize` is left on the weights;
- dynamic files must resize the table inside the graph, which only the `size` interpolation (bicubic to
  the explicit grid) can do; it differs from the official one away from 518x518 (about 1e-4 of the
  output on random weights), and the file's metadata says `pos_interp: size`.

Why else it is built this way:
- `torch.onnx.export(dynamo=True)` at opset 18 with `dynamic_shapes` H = 14*h, W = 14*w gives a graph
  that really runs at other sizes; the head must not `int()` its sizes.
- opset >= 17 so that LayerNorm is one `LayerNormalization` node (fp16 TensorRT accuracy).

Tolerance (fp32 ONNX Runtime vs fp32 PyTorch with the file's interpolation): for every image and size,
max |onnx - torch| <= ATOL + RTOL * max |torch|, RTOL = 1e-4, ATOL = 1e-5. Measured errors are ~1e-6
relative (float summation order only); the bound leaves room for other CPUs and ORT versions while
still catching any real graph error (a wrong size, a baked shape, a dropped op: errors of 1e-2 and up).
"""
from __future__ import annotations

import copy
import inspect
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..metadata import METADATA_KEY, ModelMeta
from .preprocess import PATCH, Preprocessor

DEFAULT_OPSET = 18
MIN_OPSET = 17
RTOL = 1e-4
ATOL = 1e-5
INPUT_NAME = "image"
OUTPUT_NAME = "depth"
# Largest symbolic patch grid a dynamic file accepts (14 * 300 = 4200 px per side).
MAX_GRID = 300


class ExportError(RuntimeError):
    """Export or verification failed; the message is one line that says why."""


# ---------------------------------------------------------------------------------------------- metadata


def pos_interp_for(dynamic: bool) -> str:
    """The positional interpolation a file of this kind carries (see the module docstring)."""
    return "size" if dynamic else "official"


def metadata_props(meta: ModelMeta, dynamic: bool) -> dict[str, str]:
    """ONNX `metadata_props` for a model: our JSON block plus flat keys that tools (Netron) show."""
    props = {
        METADATA_KEY: meta.to_json(),
        "encoder": meta.encoder,
        "version": meta.version,
        "kind": meta.kind,
        "max_depth": "" if meta.max_depth is None else repr(float(meta.max_depth)),
        "input_size": "" if meta.input_size is None else f"{meta.input_size[0]}x{meta.input_size[1]}",
        "dynamic_hw": "true" if dynamic else "false",
        "pos_interp": pos_interp_for(dynamic),
        "license": meta.license,
    }
    return props


def meta_from_props(props: dict[str, str], source: str = "ONNX file") -> ModelMeta:
    """The `ModelMeta` stored by `metadata_props`; a ValueError naming `source` when absent."""
    text = props.get(METADATA_KEY)
    if not text:
        raise ValueError(f"{source}: no '{METADATA_KEY}' metadata (kind / max_depth unknown); "
                         "export it with `depth-anything-ros export onnx`")
    try:
        return ModelMeta.from_json(text)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{source}: unreadable '{METADATA_KEY}' metadata ({exc})") from None


def read_onnx_metadata(path: str | Path) -> tuple[ModelMeta, dict[str, str]]:
    """(ModelMeta, all metadata_props) of an ONNX file, read with the `onnx` package (no weights loaded)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    return meta_from_props(props, str(path)), props


# ---------------------------------------------------------------------------------------------- export


def _check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0 or height % PATCH or width % PATCH:
        raise ExportError(f"network size {height}x{width}: both sides must be positive multiples of {PATCH}")


def _prepare(model, height: int, width: int, dynamic: bool):
    """A float32 eval copy of `model` ready for export: dynamic -> `size` interpolation in the graph;
    static -> the official table for this grid frozen as a constant (equal to what the checkpoint computes)."""
    import torch

    model = copy.deepcopy(model).float().eval()
    model.set_pos_interp(pos_interp_for(dynamic))
    if not dynamic:
        enc = model.pretrained
        with torch.no_grad():
            table = enc.interpolate_pos_encoding(height // PATCH, width // PATCH, torch.float32).detach().clone()
        enc.register_buffer("_frozen_pos_embed", table, persistent=False)
        enc.interpolate_pos_encoding = lambda h, w, dtype: enc._frozen_pos_embed.to(dtype)
    return model


def export_onnx(model, meta: ModelMeta, output: str | Path, height: int, width: int, dynamic: bool = False,
                opset: int = DEFAULT_OPSET) -> Path:
    """Export `model` to `output` (a single .onnx file when under 2 GB) and return the path.

    `height`×`width` is the network size: the fixed size of a static file, the example (and
    recorded preferred) size of a dynamic one. `meta` is written into the file's metadata with
    `input_size` set to that size. The caller's model is not modified.
    """
    import torch

    _check_size(height, width)
    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset} < {MIN_OPSET}: LayerNorm would be decomposed (fp16 TensorRT accuracy)")
    net = _prepare(model, height, width, dynamic)
    # Batch 2 in the example keeps torch.export from specialising the dynamic batch dim to 1.
    example = torch.zeros(2, 3, height, width)
    batch = torch.export.Dim("batch", min=1, max=256)
    shapes = {0: batch}
    if dynamic:
        # H and W stay multiples of 14; min 2 patches (torch.export specialises sizes 0 and 1).
        shapes[2] = PATCH * torch.export.Dim("h", min=2, max=MAX_GRID)
        shapes[3] = PATCH * torch.export.Dim("w", min=2, max=MAX_GRID)
    forward_arg = next(iter(inspect.signature(net.forward).parameters))
    # The exporter logs a warning per missing optional op library (torchvision) and a FutureWarning
    # from torch internals; neither concerns this model, so keep the user's terminal for our report.
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(
                net, (example,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME], dynamic_shapes={forward_arg: shapes}, optimize=True, verbose=False,
            )
    except Exception as exc:  # torch.export errors are pages long; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"torch.onnx.export failed: {first}") from exc
    finally:
        onnx_log.setLevel(level)
    meta = copy.deepcopy(meta)
    meta.input_size = (int(height), int(width))
    for key, value in metadata_props(meta, dynamic).items():
        program.model.metadata_props[key] = value
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    n_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    # external_data only where protobuf's 2 GB limit forces it (vitg); otherwise one self-contained file.
    program.save(str(output), external_data=n_bytes >= 2_000_000_000 - 64_000_000)
    return output


# ---------------------------------------------------------------------------------------------- verification


@dataclass
class Check:
    """One image at one size: ONNX Runtime vs torch fp32."""

    image: str
    size: tuple[int, int]
    max_error: float
    mean_error: float
    scale: float  # max |torch output|
    tolerance: float
    constant_reference: bool = False  # the torch output is constant: the comparison proves little

    @property
    def ok(self) -> bool:
        return math.isfinite(self.max_error) and self.max_error <= self.tolerance


@dataclass
class VerifyReport:
    """All checks of one ONNX file; `ok` when every check is within tolerance."""

    path: str
    dynamic: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def worst(self) -> Check:
        return max(self.checks, key=lambda c: c.max_error / c.tolerance if math.isfinite(c.max_error) else math.inf)

    def lines(self) -> list[str]:
        out = []
        for c in self.checks:
            flag = "ok" if c.ok else "FAIL"
            note = "  (torch output is constant: weak check)" if c.constant_reference else ""
            out.append(f"{c.image:<20} {c.size[0]}x{c.size[1]:<5} max {c.max_error:.3g}  mean {c.mean_error:.3g}  "
                       f"tol {c.tolerance:.3g}  |out| {c.scale:.3g}  {flag}{note}")
        return out


def verification_images() -> list[tuple[str, np.ndarray]]:
    """Real photos shipped with scikit-image: (name, RGB uint8)."""
    try:
        from skimage import data
    except ImportError:
        raise ExportError("scikit-image is not installed: pass verification images explicitly") from None
    images = [("astronaut", data.astronaut()), ("chelsea", data.chelsea()), ("coffee", data.coffee())]
    try:
        images.append(("motorcycle_left", data.stereo_motorcycle()[0]))
    except Exception:  # the stereo pair is fetched lazily in some scikit-image installs
        pass
    return [(name, np.ascontiguousarray(img[..., :3])) for name, img in images]


def default_verify_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """Sizes a dynamic file is checked at: the export size, its transpose and a smaller non-square one."""
    small = (max(2 * PATCH, round(height * 0.6 / PATCH) * PATCH), max(2 * PATCH, round(width * 0.8 / PATCH) * PATCH))
    sizes = [(height, width), (width, height), small]
    return list(dict.fromkeys(sizes))


def onnx_input_size(session) -> tuple[int, int] | None:
    """Fixed (H, W) of an ORT session's image input, or None when H or W is symbolic."""
    shape = session.get_inputs()[0].shape
    h, w = shape[2], shape[3]
    return (h, w) if isinstance(h, int) and isinstance(w, int) else None


def verify_onnx(onnx_path: str | Path, model, images: Sequence[tuple[str, np.ndarray]],
                sizes: Iterable[tuple[int, int]] | None = None, rtol: float = RTOL, atol: float = ATOL,
                providers: Sequence[str] = ("CPUExecutionProvider",), progress: bool = False) -> VerifyReport:
    """Run `onnx_path` in ONNX Runtime and `model` (fp32, the file's interpolation: official for static files,
    size for dynamic ones) on each image at each size.

    A static file is checked at its own size (`sizes` must be None or that size); a dynamic file at
    each of `sizes` (default: `default_verify_sizes` of the recorded input size).
    """
    import onnxruntime as ort
    import torch
    from tqdm import tqdm

    session = ort.InferenceSession(str(onnx_path), providers=list(providers))
    fixed = onnx_input_size(session)
    meta = meta_from_props(session.get_modelmeta().custom_metadata_map, str(onnx_path))
    if fixed is not None:
        sizes = [fixed] if sizes is None else list(sizes)
        if any(tuple(s) != fixed for s in sizes):
            raise ExportError(f"{onnx_path} is static {fixed[0]}x{fixed[1]}; it cannot be checked at other sizes")
    elif sizes is None:
        if meta.input_size is None:
            raise ExportError(f"{onnx_path}: dynamic file without a recorded input size; pass sizes")
        sizes = default_verify_sizes(*meta.input_size)
    sizes = [tuple(int(v) for v in s) for s in sizes]
    reference = copy.deepcopy(model).float().eval()
    reference.set_pos_interp(pos_interp_for(fixed is None))
    report = VerifyReport(str(onnx_path), dynamic=fixed is None)
    jobs = [(name, rgb, size) for size in sizes for name, rgb in images]
    for name, rgb, size in tqdm(jobs, desc="verify", unit="run", disable=None if progress else True, leave=False):
        batch = Preprocessor(size)(rgb)
        with torch.inference_mode():
            ref = reference(torch.from_numpy(batch)).numpy()
        out = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        if out.shape != ref.shape:
            report.checks.append(Check(name, size, math.inf, math.inf, float(np.abs(ref).max()), 0.0))
            continue
        err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        scale = float(np.abs(ref).max())
        report.checks.append(Check(name, size, float(err.max()), float(err.mean()), scale, atol + rtol * scale,
                                   constant_reference=bool(np.ptp(ref) == 0)))
    return report


def require_ok(report: VerifyReport) -> None:
    """Raise ExportError (one line) unless every check of `report` is within tolerance."""
    if not report.checks:
        raise ExportError(f"{report.path}: nothing was verified")
    if not report.ok:
        c = report.worst
        raise ExportError(f"ONNX Runtime output differs from torch fp32 on {c.image} at {c.size[0]}x{c.size[1]}: "
                          f"max error {c.max_error:.3g} > tolerance {c.tolerance:.3g}")
