"""The Depth Anything network and its checkpoint formats."""
from .depth_anything import DepthAnything, ModelConfig, build_model
from .presets import KINDS, PRESETS, VERSIONS, Preset, get_preset

__all__ = ["DepthAnything", "ModelConfig", "build_model", "KINDS", "PRESETS", "VERSIONS", "Preset", "get_preset"]
