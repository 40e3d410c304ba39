"""Fixtures for the engine tests: tiny random-weight models and ONNX files exported from them once per session.

`varied_checkpoint` is the suite's `tiny_checkpoint`: a random-weight relative model whose output is
positive and varies over the image (see test/conftest.py), never shown as depth.
"""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.model.checkpoint import load_checkpoint

STATIC_SIZES = ((266, 350), (182, 238))
DYNAMIC_EXPORT_SIZE = (266, 350)
DYNAMIC_CHECK_SIZES = ((266, 350), (350, 266), (182, 238))


@pytest.fixture(scope="session")
def varied_checkpoint(tiny_checkpoint):
    return tiny_checkpoint


@pytest.fixture(scope="session")
def photos():
    """Two real photos (RGB uint8) from scikit-image."""
    from skimage import data

    return [("chelsea", np.ascontiguousarray(data.chelsea())), ("coffee", np.ascontiguousarray(data.coffee()))]


def _export(checkpoint, out, size, dynamic):
    from depth_anything_ros.inference.export import export_onnx

    model, meta = load_checkpoint(checkpoint, pos_interp="size")
    return export_onnx(model, meta, out, *size, dynamic=dynamic)


@pytest.fixture(scope="session")
def static_onnx(tmp_path_factory, varied_checkpoint, tiny_metric_checkpoint):
    """{(h, w): path}: one static file per size; the first from the metric model, the second relative."""
    root = tmp_path_factory.mktemp("onnx_static")
    sources = (tiny_metric_checkpoint, varied_checkpoint)
    return {size: (_export(ckpt, root / f"static_{size[0]}x{size[1]}.onnx", size, False), ckpt)
            for size, ckpt in zip(STATIC_SIZES, sources)}


@pytest.fixture(scope="session")
def dynamic_onnx(tmp_path_factory, varied_checkpoint):
    root = tmp_path_factory.mktemp("onnx_dynamic")
    return _export(varied_checkpoint, root / "dynamic.onnx", DYNAMIC_EXPORT_SIZE, True)
