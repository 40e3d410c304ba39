"""QoS profiles from the `input_qos.*` / `output_qos.*` parameters (Isaac ROS style)."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from .params import QosConfig

_RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
_DURABILITY = {"volatile": DurabilityPolicy.VOLATILE, "transient_local": DurabilityPolicy.TRANSIENT_LOCAL}


def qos_profile(q: QosConfig) -> QoSProfile:
    """KEEP_LAST `depth` with the configured reliability and durability."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=q.depth,
                      reliability=_RELIABILITY[q.reliability], durability=_DURABILITY[q.durability])
