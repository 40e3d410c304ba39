"""The one interface every inference backend implements."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ...metadata import ModelMeta


class Engine(ABC):
    """Runs the network on preprocessed batches.

    `infer` takes float32 (B, 3, h, w), ImageNet-normalised, h and w multiples of 14, and returns
    the raw model output float32 (B, h, w): relative inverse depth or metres, per `meta.kind`.
    `input_size` is the fixed (h, w) a static engine was built for, or None when any size runs.
    The engine's `meta` (from the checkpoint / ONNX / plan), not user options, decides kind and max_depth.
    """

    name: str = "engine"
    meta: ModelMeta
    input_size: tuple[int, int] | None = None

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Raw network output for a preprocessed batch."""

    def describe(self) -> dict:
        """Engine name, device, precision and library versions, for logs, diagnostics and benchmarks."""
        return {"engine": self.name}

    def close(self) -> None:
        """Release device resources (no-op by default)."""
