"""Preprocessing, inference engines and the DepthEstimator that ties them together."""
from .estimator import DepthEstimator
from .preprocess import Preprocessor, official_network_size, resize_output

__all__ = ["DepthEstimator", "Preprocessor", "official_network_size", "resize_output"]
