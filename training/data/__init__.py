"""Data: the RGB-D sample type, the synthetic engine, shards and dataset readers."""
from training.data.sample import RGBDSample

__all__ = ["RGBDSample"]
