"""The official resize rule (spec §1.7 table, exactly), normalisation, and output resizing."""
import numpy as np
import pytest

from depth_anything_ros.inference.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessor,
    official_network_size,
    parse_size,
    resize_output,
)

SPEC_TABLE = [  # original H×W -> network H×W (spec §1.7, verified with the official Resize.get_size)
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


def test_resize_output_back_to_image():
    pred = np.arange(70 * 98, dtype=np.float32).reshape(70, 98)
    out = resize_output(pred, 48, 64)
    assert out.shape == (48, 64) and out.dtype == np.float32
    assert pred.min() <= out.min() and out.max() <= pred.max()
