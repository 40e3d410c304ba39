"""The depth node with the fake TensorRT of fake_tensorrt.py (a real release's API surface) in place.

    FAKE_TRT_API=api.json [FAKE_TRT_ERROR=0.2] python test/engines/fake_trt_launch.py --ros-args ...
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fake_tensorrt  # noqa: E402


class _Patch:
    @staticmethod
    def setitem(mapping, key, value):
        mapping[key] = value


fake_tensorrt.install(_Patch(), json.loads(Path(os.environ["FAKE_TRT_API"]).read_text()),
                      error=float(os.environ.get("FAKE_TRT_ERROR", "0")))
from depth_anything_ros.ros.main import main  # noqa: E402

sys.exit(main(sys.argv))
