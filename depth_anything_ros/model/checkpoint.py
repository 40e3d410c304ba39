"""Reading and writing checkpoints in every format we meet (docs/inference.md, "Checkpoint keys").

Formats, auto-detected:
- "ours": safetensors with our JSON metadata block (preset, version, kind, max_depth, ...);
- "official": the official `.pth` state dicts (V1/V2 relative, V2 metric), `{'model': ...}` wrappers
  and `module.` prefixes accepted;
- "transformers": a `DepthAnythingForDepthEstimation` directory (config.json + weights) or state dict;
- "dinov2": DINOv2 backbone-only weights, for initialising the encoder before training.

Every torch.load uses `weights_only=True`. A shape or key mismatch is an error that names the
missing/unexpected keys and, where one fits, the preset that would load them.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..metadata import METADATA_KEY, ModelMeta  # noqa: F401 (ModelMeta re-exported)
from .depth_anything import DepthAnything
from .hf_mapping import transformers_to_official
from .official import official_checkpoint, resolve_checkpoint
from .presets import PRESETS, match_preset

_HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked; the message says why and what would fit."""


# ---------------------------------------------------------------------------------------------- reading


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Raw tensors and side information (`metadata`, HF `config`) from a file or HF directory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    info: dict = {}
    if path.is_dir():
        cfg = path / "config.json"
        weights = next((path / f for f in _HF_WEIGHT_FILES if (path / f).exists()), None)
        if weights is None:
            raise CheckpointError(f"{path}: directory holds none of {', '.join(_HF_WEIGHT_FILES)}")
        if cfg.exists():
            info["config"] = json.loads(cfg.read_text())
        path = weights
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                info["metadata"] = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # corrupt or foreign file: one clear line
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    for wrapper in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: does not contain a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state, info


def detect_format(state: dict[str, torch.Tensor], info: dict) -> str:
    """One of "ours", "official", "transformers", "dinov2"."""
    if METADATA_KEY in info.get("metadata", {}):
        return "ours"
    keys = state.keys()
    if any(k.startswith("pretrained.") for k in keys) and any(k.startswith("depth_head.") for k in keys):
        return "official"
    if any(k.startswith("backbone.embeddings.") for k in keys) and any(k.startswith("neck.") for k in keys):
        return "transformers"
    if "cls_token" in keys and any(k.startswith("blocks.") for k in keys):
        return "dinov2"
    sample = ", ".join(sorted(keys)[:3])
    raise CheckpointError(f"unrecognised checkpoint layout (first keys: {sample})")


def describe_shapes(state: dict[str, torch.Tensor]) -> tuple[int, int, int | None]:
    """(embed_dim, number of blocks, DPT features) of an official-layout state dict."""
    prefix = "pretrained." if "pretrained.cls_token" in state else ""
    embed_dim = state[f"{prefix}cls_token"].shape[-1]
    depth = 1 + max(int(k.split(".")[1 if not prefix else 2]) for k in state if k.startswith(f"{prefix}blocks."))
    rn = state.get("depth_head.scratch.layer1_rn.weight")
    return int(embed_dim), depth, (int(rn.shape[0]) if rn is not None else None)


def _fitting_encoder(state: dict[str, torch.Tensor]) -> str:
    try:
        dim, depth, features = describe_shapes(state)
    except (KeyError, ValueError):
        return "no known preset fits"
    for p in PRESETS.values():
        if (p.embed_dim, p.depth) == (dim, depth) and features in (None, p.features):
            return f"the checkpoint fits --encoder {p.name}"
    return f"no known preset fits (embed_dim {dim}, {depth} blocks, features {features})"


def load_into(model: DepthAnything, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Strict load with an error that names missing/unexpected/mis-shaped keys and the fitting preset."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
            if keys:
                shown = ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")
                parts.append(f"{label}: {shown}")
        raise CheckpointError(
            f"{source} does not fit --encoder {model.config.encoder}: {'; '.join(parts)}; {_fitting_encoder(state)}"
        )
    model.load_state_dict(state, strict=True)


def _resolve(name: str, given, stored, default=None):
    """A user option versus what the checkpoint says: the checkpoint wins; a conflict is an error."""
    if stored is not None and given is not None and given != stored:
        raise CheckpointError(f"checkpoint says {name}={stored!r} but {given!r} was asked for")
    return stored if stored is not None else (given if given is not None else default)


def _meta_from_transformers_config(cfg: dict) -> dict:
    out = {}
    backbone = cfg.get("backbone_config") or {}
    indices = backbone.get("out_indices")
    depth = backbone.get("num_hidden_layers")
    if indices and depth:
        blocks = tuple(i - 1 for i in indices)  # transformers index 0 is the embedding "stem"
        out["version"] = "v1" if blocks == tuple(range(depth - 4, depth)) else "v2"
    if cfg.get("depth_estimation_type"):
        out["kind"] = cfg["depth_estimation_type"]
        if out["kind"] == "metric":
            out["max_depth"] = float(cfg.get("max_depth") or 0) or None
    return out


def load_checkpoint(path: str | Path, encoder: str | None = None, version: str | None = None,
                    kind: str | None = None, max_depth: float | None = None,
                    pos_interp: str = "official") -> tuple[DepthAnything, ModelMeta]:
    """Load any supported checkpoint into a `DepthAnything` in eval mode, with its metadata.

    What the checkpoint itself records (our metadata, a transformers config) decides encoder,
    version, kind and max_depth; the arguments fill in what it does not record. Official `.pth`
    files record nothing: their released file names imply it (see `official.py`), else `version`
    defaults to "v2" and `kind` to "relative". A released file name that is not on disk is fetched
    from the hub when possible (`resolve_checkpoint`).
    """
    try:
        resolved = resolve_checkpoint(path)
    except FileNotFoundError as exc:
        raise CheckpointError(str(exc)) from None
    state, info = read_state_dict(resolved)
    fmt = detect_format(state, info)
    if fmt == "dinov2":
        raise CheckpointError(f"{path}: DINOv2 backbone-only weights hold no depth head; "
                              "use them to initialise training (load_dinov2_encoder)")
    stored: dict = {}
    if fmt == "ours":
        meta = ModelMeta.from_json(info["metadata"][METADATA_KEY])
        stored = {"encoder": meta.encoder, "version": meta.version, "kind": meta.kind, "max_depth": meta.max_depth}
    elif fmt == "transformers":
        stored = _meta_from_transformers_config(info.get("config", {}))
        state = transformers_to_official(state)
    if fmt != "ours":
        fitting = None
        try:
            fitting = match_preset(*describe_shapes(state))
        except (KeyError, ValueError):
            pass
        stored["encoder"] = fitting.name if (fitting and encoder is None) else None
        meta = ModelMeta(encoder="", version="", kind="", provenance=f"{fmt} checkpoint {Path(path).name}")
        known = official_checkpoint(path) if fmt == "official" else None
        if known is not None:  # the released file name implies what the file does not record
            version = version or known.version
            if kind is None:
                kind, max_depth = known.kind, max_depth if max_depth is not None else known.max_depth
            meta.training_focal = known.training_focal  # the focal rule
    meta.encoder = _resolve("encoder", encoder, stored.get("encoder"), "vits")
    meta.version = _resolve("version", version, stored.get("version"), "v2")
    meta.kind = _resolve("kind", kind, stored.get("kind"), "relative")
    stored_depth = stored.get("max_depth") if meta.kind == "metric" else None
    meta.max_depth = _resolve("max_depth", max_depth, stored_depth) if meta.kind == "metric" else None
    if meta.kind == "relative" and max_depth is not None:
        raise CheckpointError("--max-depth applies to metric models; this one is relative")
    try:
        model = DepthAnything(meta.model_config(pos_interp))
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    load_into(model, state, source=str(path))
    return model.eval(), meta


def load_dinov2_encoder(model: DepthAnything, path: str | Path) -> None:
    """Initialise `model.pretrained` from DINOv2 backbone weights (hub names, no prefix), strictly."""
    state, info = read_state_dict(path)
    if detect_format(state, info) != "dinov2":
        raise CheckpointError(f"{path}: not DINOv2 backbone weights")
    state = {k: v for k, v in state.items() if not k.startswith("head.")}  # hub files may carry an Identity head
    own = model.pretrained.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected or any(own[k].shape != state[k].shape for k in own if k in state):
        raise CheckpointError(
            f"{path} does not fit encoder {model.config.encoder}: missing {missing[:4]}, unexpected {unexpected[:4]}; "
            f"{_fitting_encoder(state)}"
        )
    model.pretrained.load_state_dict(state, strict=True)


# ---------------------------------------------------------------------------------------------- writing


def save_checkpoint(model: DepthAnything, path: str | Path, meta: ModelMeta | None = None) -> ModelMeta:
    """Write our format: safetensors of the official-layout state dict + the JSON metadata block."""
    from safetensors.torch import save_file

    cfg = model.config
    if meta is None:
        meta = ModelMeta(cfg.encoder, cfg.version, cfg.kind, cfg.max_depth)
    if (meta.encoder, meta.version, meta.kind, meta.max_depth) != (cfg.encoder, cfg.version, cfg.kind, cfg.max_depth):
        raise CheckpointError("metadata disagrees with the model's own configuration")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={METADATA_KEY: meta.to_json()})
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint under the real name
    return meta

