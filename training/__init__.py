"""Training, data and evaluation code for depth_anything_ros (not installed with the ROS node)."""
