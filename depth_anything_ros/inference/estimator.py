"""DepthEstimator: preprocessing + an engine + postprocessing back to the camera's resolution."""
from __future__ import annotations

import numpy as np

from .engines import Engine, create_engine
from .preprocess import Preprocessor, resize_output


class DepthEstimator:
    """RGB uint8 (H, W, 3) -> float32 (H, W): metres for metric models, relative inverse depth otherwise.

    The network size is, in order: the engine's fixed input size (static ONNX / TensorRT), the
    `network_size` given here, or the official per-image rule (shorter side 518).
    """

    def __init__(self, engine: Engine, network_size: tuple[int, int] | None = None):
        self.engine = engine
        size = engine.input_size or network_size
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

    def predict(self, rgb: np.ndarray, out_size: tuple[int, int] | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
        """Depth (metric) or inverse depth (relative) at `out_size` (H, W), default the image's resolution.
        Written into `out` (float32 (H, W)) when given, e.g. the memory of the message that will carry it."""
        raw = self.engine.infer(self.preprocessor(rgb))[0]
        return resize_output(raw, *(out_size or rgb.shape[:2]), out=out)

    @classmethod
    def create(cls, engine: str, model_path: str, network_size=None, **options) -> "DepthEstimator":
        """Estimator on engine `engine` ("torch", "onnxruntime", "tensorrt") for `model_path`."""
        return cls(create_engine(engine, model_path, **options), network_size)

    @classmethod
    def from_checkpoint(cls, path, encoder=None, version=None, kind=None, max_depth=None,
                        device: str = "cpu", precision: str = "fp32", network_size=None) -> "DepthEstimator":
        """Torch estimator from any supported checkpoint format."""
        return cls.create("torch", path, network_size, encoder=encoder, version=version, kind=kind,
                          max_depth=max_depth, device=device, precision=precision)

    @classmethod
    def from_onnx(cls, path, network_size=None, **options) -> "DepthEstimator":
        """ONNX Runtime estimator; kind and max_depth come from the ONNX metadata."""
        return cls.create("onnxruntime", path, network_size, **options)
