"""ONNX Runtime engine: CPU by default, CUDA execution provider where onnxruntime-gpu is installed."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .base import Engine

CPU_EP = "CPUExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"


def default_providers(device: str | None = None) -> list[str]:
    """Providers for `device`: "cpu", "cuda" (an error without the CUDA EP), or None (CUDA if available)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device in (None, "auto"):
        return [CUDA_EP, CPU_EP] if CUDA_EP in available else [CPU_EP]
    if device == "cpu":
        return [CPU_EP]
    if device.startswith("cuda"):
        if CUDA_EP not in available:
            raise RuntimeError(f"device {device!r} asked for, but onnxruntime has no {CUDA_EP} "
                               f"(available: {', '.join(available)}); install onnxruntime-gpu")
        return [CUDA_EP, CPU_EP]
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


class OnnxRuntimeEngine(Engine):
    """Runs a file written by `depth-anything-ros export onnx`.

    Kind, max_depth and the rest of `meta` come from the file's metadata. `input_size` is the file's
    fixed (H, W), or None for a file exported with `--dynamic`. `threads` sets ORT's intra-op threads
    (None: ORT's default, one per core).
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None, threads: int | None = None,
                 device: str | None = None):
        import onnxruntime as ort

        from ..export import INPUT_NAME, OUTPUT_NAME, meta_from_props, onnx_input_size

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self.providers = list(providers) if providers else default_providers(device)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=self.providers)
        except Exception as exc:  # ORT raises its own exception types for corrupt / foreign files
            raise ValueError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ValueError(f"{path}: expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', "
                             f"found {sorted(inputs)} -> {sorted(outputs)}")
        self._input, self._output = INPUT_NAME, OUTPUT_NAME
        props = self.session.get_modelmeta().custom_metadata_map
        self.meta = meta_from_props(props, str(path))
        from ..precision import file_precision

        self.precision = file_precision(props)  # what the graph computes in: fp32, fp16 or int8 (Q/DQ)
        self.input_size = onnx_input_size(self.session)
        self.threads = threads

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) batch, got shape {batch.shape}")
        if self.input_size is not None and tuple(batch.shape[2:]) != self.input_size:
            h, w = self.input_size
            raise ValueError(f"{self.path.name} is a static {h}x{w} file; got {batch.shape[2]}x{batch.shape[3]} "
                             "(export one file per size, or export with --dynamic)")
        return self.session.run([self._output], {self._input: batch})[0]

    def describe(self) -> dict:
        import onnxruntime as ort

        return {"engine": self.name, "device": "cuda" if self.session.get_providers()[0] == CUDA_EP else "cpu",
                "precision": self.precision, "providers": self.session.get_providers(), "onnxruntime": ort.__version__,
                "input_size": list(self.input_size) if self.input_size else "dynamic", "threads": self.threads,
                "model": self.path.name}

    def close(self) -> None:
        self.session = None
