"""The ROS 2 depth node (rclpy): topics, parameters, QoS, diagnostics and message conversion.

Importing this package does not import rclpy; `main.py` is the executable (`depth_anything_node`).
"""
