"""INT8 calibration batches read from an image folder through the inference Preprocessor."""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import pytest

from depth_anything_ros.inference.engines.calibration import CalibrationBatches, list_images
from depth_anything_ros.inference.preprocess import Preprocessor


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


def test_batches_match_the_inference_preprocessing(image_dir):
    batches = CalibrationBatches(image_dir, (182, 238), batch_size=2)
    assert len(batches.files) == 6 and len(batches) == 3
    assert batches.shape == (2, 3, 182, 238) and batches.nbytes == 2 * 3 * 182 * 238 * 4
    out = list(batches)
    assert all(b.shape == (2, 3, 182, 238) and b.dtype == np.float32 and b.flags.c_contiguous for b in out)
    first = cv2.cvtColor(cv2.imread(str(batches.files[0])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(out[0][0], Preprocessor((182, 238))(first)[0])


def test_unreadable_files_are_skipped_with_a_warning(image_dir, caplog):
    batches = CalibrationBatches(image_dir, (182, 238), batch_size=2)
    with caplog.at_level(logging.WARNING):
        out = list(batches)
    assert "03_corrupt.png" in caplog.text
    assert len(out) == 2  # 5 readable images -> 2 full batches; the remainder is dropped


def test_fewer_images_than_the_batch_size(image_dir):
    batches = CalibrationBatches(image_dir, (182, 238), batch_size=64)
    assert batches.batch_size == 6


def test_max_images_spreads_over_the_folder(image_dir):
    files = list_images(image_dir, max_images=3)
    everything = list_images(image_dir)
    assert files == [everything[0], everything[2], everything[5]]  # linspace(0, 5, 3) rounded half-to-even


def test_fingerprint_follows_the_files(image_dir):
    a = CalibrationBatches(image_dir, (182, 238), batch_size=2).fingerprint()
    assert a == CalibrationBatches(image_dir, (182, 238), batch_size=2).fingerprint()
    assert a != CalibrationBatches(image_dir, (266, 350), batch_size=2).fingerprint()
    target = sorted(image_dir.glob("*.png"))[0]
    target.write_bytes(target.read_bytes() + b"\0")
    os.utime(target, (1, 1))
    assert a != CalibrationBatches(image_dir, (182, 238), batch_size=2).fingerprint()


def test_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        CalibrationBatches(tmp_path / "missing", (182, 238))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        CalibrationBatches(tmp_path / "empty", (182, 238))
    with pytest.raises(ValueError, match="batch_size"):
        CalibrationBatches(tmp_path, (182, 238), batch_size=0)
