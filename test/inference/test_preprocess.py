"""The official resize rule (the table in docs/inference.md, exactly), normalisation, and output resizing."""
import numpy as np
import pytest

from depth_anything_ros.inference.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessor,
    official_network_size,
    resize_output,
)
from depth_anything_ros.depth_io import parse_size

SPEC_TABLE = [  # original H×W -> network H×W (docs/inference.md; from the official Resize.get_size)
    ((480, 640), (518, 686)),
    ((200, 300), (518, 784)),
    ((1080, 1920), (518, 924)),
    ((375, 1242), (518, 1722)),
    ((352, 1216), (518, 1792)),
    ((768, 1024), (518, 686)),
    ((1216, 352), (1792, 518)),
]


@pytest.mark.parametrize("original,expected", SPEC_TABLE)
def test_official_resize_table(original, expected):
    assert official_network_size(*original) == expected


def test_fixed_size_and_normalisation():
    rgb = np.full((48, 64, 3), (124, 116, 104), np.uint8)  # ~ImageNet mean colour
    batch = Preprocessor((70, 98))(rgb)
    assert batch.shape == (1, 3, 70, 98) and batch.dtype == np.float32
    expected = ((np.array([124, 116, 104]) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)
    assert np.allclose(batch[0, :, 10, 10], expected, atol=1e-5)


def test_official_mode_per_image():
    batch = Preprocessor()(np.zeros((480, 640, 3), np.uint8))
    assert batch.shape == (1, 3, 518, 686)


def test_bad_sizes():
    with pytest.raises(ValueError, match="multiples of 14"):
        Preprocessor((100, 98))
    with pytest.raises(ValueError, match="multiples of 14"):
        parse_size("518x500")
    with pytest.raises(ValueError, match="HxW"):
        parse_size("big")
    assert parse_size("518x392") == (518, 392)


def _official_resize(pred, height, width, align_corners):
    """What the official inference does to the network output: torch bilinear with its own argument
    (V2 `infer_image`: align_corners=True; V1 `run.py`: align_corners=False)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(pred, np.float32))[None, None]
    return F.interpolate(x, (height, width), mode="bilinear", align_corners=align_corners)[0, 0].numpy()


@pytest.mark.parametrize("version, align_corners, atol", [
    ("v2", True, 2e-6),
    # cv2's bilinear is exact; torch computes its align_corners=False source index in float32, which moves
    # samples by up to ~1e-4 pixel at these sizes (white noise here: neighbours differ by ~1.4), so the bound is looser
    ("v1", False, 1e-3),
])
@pytest.mark.parametrize("src, dst", [((266, 350), (480, 640)), ((518, 686), (480, 640)), ((37, 49), (720, 1280)),
                                      ((266, 350), (100, 133)), ((70, 98), (70, 98))])
def test_output_resize_follows_the_official_rule_of_each_version(version, align_corners, atol, src, dst):
    pred = np.random.default_rng(0).standard_normal(src).astype(np.float32)
    ours = resize_output(pred, *dst, version=version)
    ref = _official_resize(pred, *dst, align_corners)
    assert ours.shape == dst and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=0, atol=atol)
    other = _official_resize(pred, *dst, not align_corners)
    if src != dst:  # the other version's rule really is different: the test can tell them apart
        assert np.abs(ours - other).max() > 100 * atol


def test_output_resize_writes_into_the_given_memory():
    pred = np.random.default_rng(1).standard_normal((266, 350)).astype(np.float32)
    for version in ("v1", "v2"):
        out = np.full((480, 640), np.nan, np.float32)
        got = resize_output(pred, 480, 640, version=version, out=out)
        assert got is out and np.isfinite(out).all()
    with pytest.raises(ValueError, match="version"):
        resize_output(pred, 480, 640, version="v3")
