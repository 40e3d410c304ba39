"""The synthetic RGB-D engine. The sample type, the shard format and the dataset readers are torch-free and
live in the runtime package (`depth_anything_ros.data`), so that `eval` and calibration work without training."""
