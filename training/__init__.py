"""Training code for depth_anything_ros: teacher, pseudo-labels, student, metric fine-tuning, export.

In the repository this folder is the package `training` (`python -m training.cli`); a wheel installs it as
`depth_anything_ros_train` (console script `depth-anything-train`). It imports the runtime package
`depth_anything_ros`, never the reverse, and refers to its own modules only by relative imports so that
both names work."""
