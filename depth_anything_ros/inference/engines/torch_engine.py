"""PyTorch engine: CPU or CUDA, fp32 or fp16, optional CUDA graphs and torch.compile."""
from __future__ import annotations

import numpy as np
import torch

from ...model import DepthAnything
from ...model.checkpoint import ModelMeta, load_checkpoint
from .base import Engine

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchEngine(Engine):
    """PyTorch inference. `cuda_graphs=True` captures one graph per input shape (CUDA only);
    `compile=True` runs the model through `torch.compile` (first call per shape compiles)."""

    name = "torch"

    def __init__(self, model: DepthAnything, meta: ModelMeta, device: str = "cpu", precision: str = "fp32",
                 cuda_graphs: bool = False, compile: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
        if cuda_graphs and self.device.type != "cuda":
            raise ValueError("cuda_graphs needs device 'cuda'")
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        self.model = model.to(self.device, self.dtype).eval()
        self.meta = meta
        self.cuda_graphs = cuda_graphs
        self.compiled = compile
        self._forward = torch.compile(self.model, dynamic=False) if compile else self.model
        self._graphs: dict[tuple, tuple] = {}

    @classmethod
    def from_checkpoint(cls, path, encoder=None, version=None, kind=None, max_depth=None, **kwargs) -> "TorchEngine":
        """Load any supported checkpoint (see `load_checkpoint`) and wrap it."""
        model, meta = load_checkpoint(path, encoder=encoder, version=version, kind=kind, max_depth=max_depth)
        return cls(model, meta, **kwargs)

    @torch.inference_mode()
    def run(self, batch: torch.Tensor) -> torch.Tensor:
        """Tensor in, tensor out, on the engine's device (for benchmarks that time the GPU alone)."""
        batch = batch.to(self.device, self.dtype, non_blocking=True)
        if not self.cuda_graphs:
            return self._forward(batch)
        key = tuple(batch.shape)
        if key not in self._graphs:
            self._graphs[key] = self._capture(batch)
        graph, static_in, static_out = self._graphs[key]
        static_in.copy_(batch)
        graph.replay()
        return static_out

    def _capture(self, example: torch.Tensor):
        static_in = example.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm up kernels / allocator (and compile) outside the graph
                self._forward(static_in)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._forward(static_in)
        return graph, static_in, static_out

    def infer(self, batch: np.ndarray) -> np.ndarray:
        out = self.run(torch.from_numpy(np.ascontiguousarray(batch)))
        return out.float().cpu().numpy()

    def describe(self) -> dict:
        info = {"engine": self.name, "device": str(self.device), "precision": self.precision,
                "torch": torch.__version__, "cuda_graphs": self.cuda_graphs, "compile": self.compiled}
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        return info
