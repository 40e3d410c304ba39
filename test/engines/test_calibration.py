"""int8 calibration frames from a folder, a rosbag2 (written by `rosbags`) and the synthetic engine.

Oracles: OpenCV decodes the files and the inference Preprocessor is applied here independently; the
bag is written with the `rosbags` library; the sha256 is recomputed from the frames.
"""
from __future__ import annotations

import hashlib
import logging

import cv2
import numpy as np
import pytest

from depth_anything_ros.inference.engines.calibration import CalibrationError, calibration_set, list_images
from depth_anything_ros.inference.preprocess import Preprocessor

SIZE = (182, 238)


@pytest.fixture()
def image_dir(tmp_path, photos):
    """5 real photos (png and jpg, one in a sub-folder), a corrupt .png and a text file."""
    (tmp_path / "sub").mkdir()
    for i in range(5):
        name, rgb = photos[i % len(photos)]
        folder = tmp_path / "sub" if i == 4 else tmp_path
        ext = ".png" if i % 2 == 0 else ".jpg"
        cv2.imwrite(str(folder / f"{i:02d}_{name}{ext}"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / "03_corrupt.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_folder_frames_match_the_inference_preprocessing(image_dir, caplog):
    with caplog.at_level(logging.WARNING):
        cal = calibration_set(f"folder:{image_dir}", SIZE)
    assert "03_corrupt.png" in caplog.text and cal.count == 5
    first = cv2.cvtColor(cv2.imread(str(sorted(image_dir.glob("*.png"))[0])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(cal.frames[0], Preprocessor(SIZE)(first))
    assert cal.sha256 == hashlib.sha256(b"".join(f.tobytes() for f in cal.frames)).hexdigest()
    assert cal.identity("percentile") == {"source": f"folder:{image_dir.resolve()}", "count": 5,
                                          "sha256": cal.sha256, "method": "percentile"}
    assert calibration_set(f"folder:{image_dir}", SIZE, limit=2).count == 2


def test_max_images_spreads_over_the_folder(image_dir):
    files = list_images(image_dir, max_images=3)
    everything = list_images(image_dir)
    assert files == [everything[0], everything[2], everything[5]]  # linspace(0, 5, 3) rounded half-to-even


def test_rosbag_frames(tmp_path, photos):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    Image, Header, Time = (ts.types[n] for n in ("sensor_msgs/msg/Image", "std_msgs/msg/Header",
                                                 "builtin_interfaces/msg/Time"))
    bag = tmp_path / "bag"
    rgbs = [cv2.resize(p, (64, 48)) for _, p in photos] * 2
    with Writer(bag, version=9) as wr:
        conn = wr.add_connection("/camera/image_raw", Image.__msgtype__, typestore=ts)
        for i, rgb in enumerate(rgbs):
            t = 10**9 + i * 10**8
            msg = Image(header=Header(stamp=Time(sec=1, nanosec=i), frame_id="cam"), height=48, width=64,
                        encoding="rgb8", is_bigendian=0, step=64 * 3, data=rgb.reshape(-1))
            wr.write(conn, t, ts.serialize_cdr(msg, Image.__msgtype__))
    cal = calibration_set(f"rosbag:{bag}", SIZE, limit=3)
    assert cal.count == 3 and cal.source == f"rosbag:{bag.resolve()}"
    picked = [rgbs[i] for i in np.linspace(0, len(rgbs) - 1, 3).round().astype(int)]
    for frame, rgb in zip(cal.frames, picked):
        np.testing.assert_array_equal(frame, Preprocessor(SIZE)(rgb))
    with pytest.raises(CalibrationError, match="no topic /nope"):
        calibration_set(f"rosbag:{bag},rgb=/nope", SIZE)


def test_synthetic_frames_are_deterministic():
    a = calibration_set("synthetic:2", SIZE)
    assert a.count == 2 and a.frames[0].shape == (1, 3, *SIZE) and a.source == "synthetic:labeled,seed=0"
    assert calibration_set("synthetic:2", SIZE).sha256 == a.sha256


def test_bad_specs(tmp_path):
    for spec, expect in [(f"folder:{tmp_path / 'missing'}", "does not exist"), ("folder:" + str(tmp_path), "no images"),
                         ("webcam:0", "expected folder:DIR"), ("synthetic:many", "needs a frame count"),
                         (f"rosbag:{tmp_path / 'none'}", "no such rosbag2")]:
        with pytest.raises(CalibrationError, match=expect):
            calibration_set(spec, SIZE)
