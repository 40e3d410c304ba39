"""Training data sources: the config's `data.train` / `data.val` entries turned into labeled datasets. The
sample type, the shard format, the dataset readers and the synthetic RGB-D engine are torch-free and live in
the runtime package (`depth_anything_ros.data`), so that `eval` and int8 calibration work without training."""
