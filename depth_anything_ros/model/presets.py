"""Encoder/head sizes of the official presets (docs/inference.md) and our small CPU preset."""
from __future__ import annotations

from dataclasses import dataclass

VERSIONS = ("v1", "v2")
KINDS = ("relative", "metric")


@dataclass(frozen=True)
class Preset:
    """Everything that fixes the shapes of a Depth Anything network."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    features: int
    out_channels: tuple[int, int, int, int]
    taps_v2: tuple[int, int, int, int]
    ffn: str = "mlp"

    @property
    def taps_v1(self) -> tuple[int, int, int, int]:
        # V1 (unintentionally) feeds the head from the last four blocks.
        return tuple(range(self.depth - 4, self.depth))

    def taps(self, version: str) -> tuple[int, int, int, int]:
        """Encoder block indices that feed the DPT head for `version` ("v1" or "v2")."""
        if version not in VERSIONS:
            raise ValueError(f"unknown version {version!r}; expected one of {VERSIONS}")
        return self.taps_v1 if version == "v1" else self.taps_v2


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("vits", 384, 12, 6, 64, (48, 96, 192, 384), (2, 5, 8, 11)),
        Preset("vitb", 768, 12, 12, 128, (96, 192, 384, 768), (2, 5, 8, 11)),
        Preset("vitl", 1024, 24, 16, 256, (256, 512, 1024, 1024), (4, 11, 17, 23)),
        Preset("vitg", 1536, 40, 24, 384, (1536, 1536, 1536, 1536), (9, 19, 29, 39), ffn="swiglu"),
        # Ours: a ViT-Tiny-width, 6-block encoder for CPU tests and the shipped demo model.
        Preset("vitt", 192, 6, 3, 32, (24, 48, 96, 192), (1, 2, 4, 5)),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a ValueError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; expected one of {', '.join(PRESETS)}") from None


def match_preset(embed_dim: int, depth: int, features: int) -> Preset | None:
    """The preset with these shapes, if any (used to name the encoder that fits a checkpoint)."""
    for p in PRESETS.values():
        if (p.embed_dim, p.depth, p.features) == (embed_dim, depth, features):
            return p
    return None
