"""Metric scale for the node and `eval`, torch- and ROS-free: the focal rule, anchors from metric sensors,
the robust fit and its temporal smoothing (see docs/scale.md)."""
from .anchors import AnchorInput, Anchors, anchors_from_input
from .fit import Fit, fit_scale
from .focal import focal_factor, network_focal
from .smoothing import ScaleSmoother
from .stage import ScaleConfig, ScaleStage, ScaleStatus

__all__ = ["AnchorInput", "Anchors", "anchors_from_input", "Fit", "fit_scale", "focal_factor", "network_focal",
           "ScaleSmoother", "ScaleConfig", "ScaleStage", "ScaleStatus"]
