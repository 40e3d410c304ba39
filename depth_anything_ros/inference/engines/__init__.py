"""Inference backends behind one interface (`Engine`), created by name."""
from __future__ import annotations

from .base import Engine

ENGINE_NAMES = ("torch", "onnxruntime", "tensorrt")


def create_engine(name: str, model_path: str, **options) -> Engine:
    """Engine `name` for `model_path` (a checkpoint for torch, an .onnx for onnxruntime,
    an .onnx or .plan for tensorrt). Imports the backend library only when asked for."""
    if name == "torch":
        from .torch_engine import TorchEngine

        return TorchEngine.from_checkpoint(model_path, **options)
    if name == "onnxruntime":
        from .onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(model_path, **options)
    if name == "tensorrt":
        from .tensorrt_engine import TensorRTEngine

        return TensorRTEngine.from_path(model_path, **options)
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


__all__ = ["ENGINE_NAMES", "Engine", "create_engine"]
