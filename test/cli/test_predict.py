"""`depth-anything-ros predict` on real photographs (scikit-image) and the Middlebury Motorcycle frame."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "depth_anything_ros.cli", "predict", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    left, _, _ = skimage_data.stereo_motorcycle()
    paths = []
    for name, rgb in (("astronaut", skimage_data.astronaut()), ("motorcycle", left)):
        path = d / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append((path, rgb.shape[:2]))
    return paths


def test_predict_writes_three_files_per_image(tmp_path, photos, tiny_metric_checkpoint):
    out = tmp_path / "out"
    res = _run("--checkpoint", tiny_metric_checkpoint, "--input-size", "98x140",
               *[p for p, _ in photos], "--output", out)
    assert res.returncode == 0, res.stderr
    for path, (h, w) in photos:
        pred = np.load(out / f"{path.stem}.npy")
        assert pred.shape == (h, w) and pred.dtype == np.float32
        png = cv2.imread(str(out / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (h, w)
        # metric model: the 16-bit PNG is millimetres
        assert np.allclose(png.astype(np.float32), np.clip(np.round(pred * 1000), 0, 65535), atol=1)
        color = cv2.imread(str(out / f"{path.stem}_color.png"))
        assert color.shape == (h, w, 3)


def test_predict_relative_official_size(tmp_path, photos, tiny_checkpoint):
    path, (h, w) = photos[0]
    res = _run("--checkpoint", tiny_checkpoint, path, "--output", tmp_path)
    assert res.returncode == 0, res.stderr
    assert np.load(tmp_path / f"{path.stem}.npy").shape == (h, w)
    assert "(relative)" in res.stdout


def test_predict_errors_are_one_line(tmp_path, photos, tiny_checkpoint):
    res = _run("--checkpoint", tiny_checkpoint, tmp_path / "absent.png", "--output", tmp_path)
    assert res.returncode == 2 and res.stderr.strip().endswith("absent.png: no such file")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    res = _run("--checkpoint", tiny_checkpoint, "--input-size", "70x98", bad, photos[0][0], "--output", tmp_path)
    assert res.returncode == 1
    assert "bad.jpg: not a readable image" in res.stderr
    assert (tmp_path / f"{photos[0][0].stem}.npy").exists()  # the good image was still processed
    res = _run("--checkpoint", tiny_checkpoint, "--encoder", "vitq", photos[0][0], "--output", tmp_path)
    assert res.returncode == 2 and "invalid choice: 'vitq'" in res.stderr
