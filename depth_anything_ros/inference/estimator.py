"""DepthEstimator: preprocessing + an engine + the official output resize; `open_model`, the one way to open one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .engines import ENGINE_NAMES, Engine, create_engine
from .preprocess import Preprocessor, resize_output

# File suffixes that decide the engine when none is named.
_ENGINE_BY_SUFFIX = {".onnx": "onnxruntime", ".plan": "tensorrt", ".engine": "tensorrt"}


def engine_for_path(model_path: str | Path) -> str:
    """The engine a model file runs on when none is named: .onnx -> onnxruntime, .plan -> tensorrt,
    anything else (checkpoints: .safetensors, .pth, a transformers folder) -> torch."""
    return _ENGINE_BY_SUFFIX.get(Path(model_path).suffix.lower(), "torch")


def resolve_network_size(explicit: tuple[int, int] | None, fixed: tuple[int, int] | None,
                         recorded: tuple[int, int] | None) -> tuple[tuple[int, int] | None, str]:
    """(network size, where it came from): an explicit size > a static engine's fixed size > the size the
    model records > None (the official per-image rule). An explicit size a static engine cannot run is an
    error, never silently replaced."""
    explicit = tuple(explicit) if explicit else None
    fixed = tuple(fixed) if fixed else None
    if explicit and fixed and explicit != fixed:
        raise ValueError(f"network size {explicit[0]}x{explicit[1]} asked for, but the engine is static "
                         f"{fixed[0]}x{fixed[1]}; export a file for that size, or a dynamic one (--dynamic)")
    if explicit:
        return explicit, "explicit"
    if fixed:
        return fixed, "engine"
    if recorded:
        return tuple(recorded), "model"
    return None, "official rule"


class DepthEstimator:
    """RGB uint8 (H, W, 3) -> float32 (H, W): metres for metric models, relative inverse depth otherwise.

    The network size follows `resolve_network_size`; the output is brought back to the image with the
    official rule of the model's version (`resize_output`). Open one with `open_model`.
    """

    def __init__(self, engine: Engine, network_size: tuple[int, int] | None = None):
        self.engine = engine
        size, self.size_source = resolve_network_size(network_size, engine.input_size, engine.meta.input_size)
        self.preprocessor = Preprocessor(size)

    @property
    def meta(self):
        return self.engine.meta

    @property
    def kind(self) -> str:
        return self.engine.meta.kind

    @property
    def max_depth(self) -> float | None:
        return self.engine.meta.max_depth

    @property
    def network_size(self) -> tuple[int, int] | None:
        """The fixed network (H, W), or None when the official rule picks one per image."""
        return self.preprocessor.network_size

    def predict(self, rgb: np.ndarray, out_size: tuple[int, int] | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
        """Depth (metric) or inverse depth (relative) at `out_size` (H, W), default the image's resolution.
        Written into `out` (float32 (H, W)) when given, e.g. the memory of the message that will carry it."""
        raw = self.engine.infer(self.preprocessor(rgb))[0]
        return resize_output(raw, *(out_size or rgb.shape[:2]), version=self.meta.version, out=out)


def open_model(model_path: str | Path, engine: str | None = None, network_size: tuple[int, int] | None = None,
               **options) -> DepthEstimator:
    """The one way every entry point (node, predict, eval, bench, export checks) opens a model.

    `engine`: one of ENGINE_NAMES, or None to pick by file (`engine_for_path`). `network_size`: an explicit
    (H, W), else the static engine's size, else the model's recorded size, else the official rule.
    `options` go to the engine: torch `encoder`, `version`, `kind`, `max_depth` (official .pth files record
    none), `device`, `precision`, `cuda_graphs`, `compile`; onnxruntime `device`, `threads`, `providers`;
    tensorrt as documented in docs/engines.md. The same model gives the same depth from every entry point.
    """
    name = engine or engine_for_path(model_path)
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")
    if not Path(model_path).exists():
        raise FileNotFoundError(f"{model_path}: no such file")
    if name == "tensorrt" and network_size is not None:
        options["input_size"] = tuple(network_size)  # a plan is built for one size: a dynamic ONNX needs it
    return DepthEstimator(create_engine(name, str(model_path), **options), network_size)
