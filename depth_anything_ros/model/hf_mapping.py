"""Key mapping between official Depth Anything state dicts and HuggingFace transformers ones (docs/inference.md, "Checkpoint keys").

Official names are our in-memory names. transformers stores DINOv2 attention under legacy names on
disk (`attention.attention.query` ...) and under `attention.q_proj` ... in memory (v5); both are read.
The fused official `qkv` is split by rows into q, k, v.
"""
from __future__ import annotations

import re

import torch

# official refinenet{k} <-> transformers fusion_stage.layers.{4-k}
_HEAD_RULES = [
    (r"depth_head\.projects\.(\d)\.(.*)", r"neck.reassemble_stage.layers.\1.projection.\2"),
    (r"depth_head\.resize_layers\.(\d)\.(.*)", r"neck.reassemble_stage.layers.\1.resize.\2"),
    (r"depth_head\.scratch\.output_conv1\.(.*)", r"head.conv1.\1"),
    (r"depth_head\.scratch\.output_conv2\.0\.(.*)", r"head.conv2.\1"),
    (r"depth_head\.scratch\.output_conv2\.2\.(.*)", r"head.conv3.\1"),
]
_ENC_RULES = [
    (r"pretrained\.cls_token", "backbone.embeddings.cls_token"),
    (r"pretrained\.mask_token", "backbone.embeddings.mask_token"),
    (r"pretrained\.pos_embed", "backbone.embeddings.position_embeddings"),
    (r"pretrained\.patch_embed\.proj\.(.*)", r"backbone.embeddings.patch_embeddings.projection.\1"),
    (r"pretrained\.norm\.(.*)", r"backbone.layernorm.\1"),
    (r"pretrained\.blocks\.(\d+)\.norm(\d)\.(.*)", r"backbone.encoder.layer.\1.norm\2.\3"),
    (r"pretrained\.blocks\.(\d+)\.ls(\d)\.gamma", r"backbone.encoder.layer.\1.layer_scale\2.lambda1"),
    (r"pretrained\.blocks\.(\d+)\.mlp\.(.*)", r"backbone.encoder.layer.\1.mlp.\2"),
]
_ATTN_NAMES = {
    "legacy": ("attention.attention.query", "attention.attention.key", "attention.attention.value",
               "attention.output.dense"),
    "v5": ("attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj"),
}


def _rename(key: str, rules) -> str | None:
    for pattern, repl in rules:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, repl, key)
    return None


def _official_head_key(key: str) -> str | None:
    m = re.fullmatch(r"depth_head\.scratch\.layer(\d)_rn\.weight", key)
    if m:
        return f"neck.convs.{int(m.group(1)) - 1}.weight"
    m = re.fullmatch(r"depth_head\.scratch\.refinenet(\d)\.(.*)", key)
    if m:
        rest = m.group(2).replace("out_conv", "projection").replace("resConfUnit", "residual_layer")
        rest = re.sub(r"\.conv(\d)", r".convolution\1", rest)
        return f"neck.fusion_stage.layers.{4 - int(m.group(1))}.{rest}"
    return _rename(key, _HEAD_RULES)


def official_to_transformers(state: dict[str, torch.Tensor], attn_names: str = "legacy") -> dict[str, torch.Tensor]:
    """Official state dict -> transformers `DepthAnythingForDepthEstimation` state dict.

    `attn_names="legacy"` gives the on-disk names (what `from_pretrained` reads);
    `"v5"` gives transformers 5's in-memory names (what `load_state_dict` on a live model needs).
    """
    q_name, k_name, v_name, o_name = _ATTN_NAMES[attn_names]
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"pretrained\.blocks\.(\d+)\.attn\.(qkv|proj)\.(weight|bias)", key)
        if m:
            i, which, kind = m.groups()
            prefix = f"backbone.encoder.layer.{i}."
            if which == "proj":
                out[f"{prefix}{o_name}.{kind}"] = value
            else:
                for name, part in zip((q_name, k_name, v_name), value.chunk(3, dim=0)):
                    out[f"{prefix}{name}.{kind}"] = part.clone()
            continue
        new = _rename(key, _ENC_RULES) or _official_head_key(key)
        if new is None:
            raise KeyError(f"no transformers name for official key {key!r}")
        out[new] = value
    return out


def transformers_to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers state dict (legacy or v5 attention names) -> official state dict."""
    inverse = _inverse_table(state)
    out, qkv = {}, {}
    for key, value in state.items():
        m = re.fullmatch(r"backbone\.encoder\.layer\.(\d+)\.(attention\..+)\.(weight|bias)", key)
        if m and m.group(2) not in ("attention.output.dense", "attention.o_proj"):
            i, name, kind = m.groups()
            slot = {n: j for names in _ATTN_NAMES.values() for j, n in enumerate(names[:3])}.get(name)
            if slot is None:
                raise KeyError(f"unrecognised transformers attention key {key!r}")
            qkv.setdefault((i, kind), [None, None, None])[slot] = value
            continue
        if m:
            out[f"pretrained.blocks.{m.group(1)}.attn.proj.{m.group(3)}"] = value
            continue
        if key not in inverse:
            raise KeyError(f"unrecognised transformers key {key!r}")
        out[inverse[key]] = value
    for (i, kind), parts in qkv.items():
        if any(p is None for p in parts):
            raise KeyError(f"layer {i}: incomplete query/key/value {kind} tensors")
        out[f"pretrained.blocks.{i}.attn.qkv.{kind}"] = torch.cat(parts, dim=0)
    return out


def _inverse_table(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """transformers name -> official name for every non-attention key that `state` can contain."""
    n_layers = 1 + max((int(k.split(".")[3]) for k in state if k.startswith("backbone.encoder.layer.")), default=-1)
    official = ["pretrained.cls_token", "pretrained.mask_token", "pretrained.pos_embed"]
    official += [f"pretrained.patch_embed.proj.{p}" for p in ("weight", "bias")]
    official += [f"pretrained.norm.{p}" for p in ("weight", "bias")]
    for i in range(n_layers):
        for p in ("weight", "bias"):
            official += [f"pretrained.blocks.{i}.norm1.{p}", f"pretrained.blocks.{i}.norm2.{p}"]
            official += [f"pretrained.blocks.{i}.mlp.{fc}.{p}" for fc in ("fc1", "fc2", "w12", "w3")]
        official += [f"pretrained.blocks.{i}.ls1.gamma", f"pretrained.blocks.{i}.ls2.gamma"]
    for p in ("weight", "bias"):
        official += [f"depth_head.projects.{j}.{p}" for j in range(4)]
        official += [f"depth_head.resize_layers.{j}.{p}" for j in (0, 1, 3)]
        official += [f"depth_head.scratch.output_conv1.{p}", f"depth_head.scratch.output_conv2.0.{p}",
                     f"depth_head.scratch.output_conv2.2.{p}"]
        for k in range(1, 5):
            official.append(f"depth_head.scratch.refinenet{k}.out_conv.{p}")
            official += [f"depth_head.scratch.refinenet{k}.resConfUnit{u}.conv{c}.{p}" for u in (1, 2) for c in (1, 2)]
    official += [f"depth_head.scratch.layer{k}_rn.weight" for k in range(1, 5)]
    table = {}
    for key in official:
        new = _rename(key, _ENC_RULES) or _official_head_key(key)
        table[new] = key
    return table
