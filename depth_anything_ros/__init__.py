"""depth_anything_ros: Depth Anything (DINOv2 ViT + DPT) as a ROS 2 depth sensor.

The runtime package. `model` holds the network and its checkpoint formats, `inference` the
preprocessing and engines, `ros` the node (the only code that imports rclpy), `cli` the
`depth-anything-ros` command. Training lives beside it in the `training` package.
"""

__version__ = "0.1.0"
