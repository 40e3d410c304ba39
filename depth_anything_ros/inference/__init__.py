"""Preprocessing, inference engines, and `open_model`: the one way to open a model as a DepthEstimator."""
from .engines import ENGINE_NAMES
from .estimator import DepthEstimator, engine_for_path, open_model, resolve_network_size
from .preprocess import Preprocessor, official_network_size, resize_output

__all__ = ["ENGINE_NAMES", "DepthEstimator", "Preprocessor", "engine_for_path", "official_network_size",
           "open_model", "resize_output", "resolve_network_size"]
