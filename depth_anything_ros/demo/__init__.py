"""The end-to-end demo: camera player -> depth node -> recorder, as separate processes over DDS.

Run `python -m depth_anything_ros.demo --model models/demo_vitt_metric.safetensors --output demo_output/`
(see `__main__.py`). The player and the recorder also run on their own:
`python -m depth_anything_ros.demo.player --help`, `python -m depth_anything_ros.demo.recorder --help`.
"""
