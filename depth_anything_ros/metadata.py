"""ModelMeta: what a deployed model carries with it. Torch-free, so the ONNX Runtime / TensorRT
node path never imports torch. Stored in our checkpoints (safetensors metadata), ONNX metadata_props
and TensorRT plan sidecars under the key METADATA_KEY."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

METADATA_KEY = "depth_anything_ros"
FORMAT_VERSION = 1


@dataclass
class ModelMeta:
    """What a deployed model carries with it (stored in our checkpoints and ONNX metadata)."""

    encoder: str
    version: str
    kind: str
    max_depth: float | None = None
    input_size: tuple[int, int] | None = None  # network (H, W) the model was trained/exported for
    training_focal: float | None = None  # focal length (px at input_size) of the metric training camera
    license: str = "Apache-2.0"
    provenance: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = {k: v for k, v in self.__dict__.items()}
        data["input_size"] = list(self.input_size) if self.input_size else None
        data["format_version"] = FORMAT_VERSION
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelMeta":
        data = json.loads(text)
        data.pop("format_version", None)
        known = {k: data.pop(k) for k in list(data) if k in cls.__dataclass_fields__}
        if known.get("input_size"):
            known["input_size"] = tuple(int(v) for v in known["input_size"])
        known.setdefault("extra", {}).update(data)
        return cls(**known)

    def model_config(self, pos_interp: str = "official"):
        """The torch `ModelConfig` this metadata describes (imports torch)."""
        from .model.depth_anything import ModelConfig

        return ModelConfig(self.encoder, self.version, self.kind, self.max_depth, pos_interp)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (a model file's identity in caches and metadata)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
