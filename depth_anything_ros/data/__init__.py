"""Torch-free RGB-D data: the sample type, the shard format and the dataset readers (used by `eval`,
calibration and training alike)."""
from .sample import RGBDSample

__all__ = ["RGBDSample"]
