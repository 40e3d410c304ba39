"""The ONNX Runtime path of the node never imports torch (torch is optional for deployment: docs/engines.md)."""
import subprocess
import sys


def test_onnxruntime_estimator_does_not_import_torch(static_onnx, photos):
    (path, _), = [v for k, v in static_onnx.items() if k == (266, 350)]
    code = (
        "import sys, numpy as np\n"
        "from depth_anything_ros.inference import open_model\n"
        f"est = open_model({str(path)!r})\n"
        "out = est.predict(np.zeros((48, 64, 3), np.uint8))\n"
        "assert out.shape == (48, 64), out.shape\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
