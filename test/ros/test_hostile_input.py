"""Hostile compressed input between good frames, across processes: a PNG decompression bomb and a JPEG whose
header claims a huge size are rejected before decoding (the node's peak RSS, read from /proc, does not move);
truncated and bit-flipped JPEGs that libjpeg itself reports as corrupt are skipped, not published; a JPEG with
EXIF rotation comes out in the camera's pixel grid (not rotated)."""
from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib

import cv2
import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .harness import node_with_probe, sample_images

W, H = 160, 120
OUTPUTS = ("depth/relative", "depth/colored")
T0 = 1_730_000_000 * 1_000_000_000
MAX_PIXELS = 100_000


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20000) -> bytes:
    """A valid 8-bit grey PNG of side x side zero pixels (decodes to side² bytes; a few hundred KB on disk)."""
    z = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0 + the pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming width x height."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[:i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9:]


def libjpeg_warnings(data: bytes) -> str:
    """What libjpeg prints while OpenCV decodes `data` (OpenCV returns an image and only warns on stderr)."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def corrupt_jpegs(jpeg: bytes, n: int) -> list[bytes]:
    """Bit flips in the entropy-coded data that libjpeg reports as corrupt (the oracle), plus truncation."""
    out = [jpeg[: len(jpeg) // 2] + b"\xff\xd9"]  # truncated, with an end-of-image marker
    assert "Corrupt JPEG data" in libjpeg_warnings(out[0]) or "Premature end" in libjpeg_warnings(out[0])
    sos = jpeg.index(b"\xff\xda")
    for seed in range(200):
        rng = np.random.default_rng(seed)
        b = bytearray(jpeg)
        for _ in range(4):
            b[int(rng.integers(sos + 20, len(jpeg) - 2))] ^= 1 << int(rng.integers(0, 8))
        if "Corrupt JPEG data" in libjpeg_warnings(bytes(b)):
            out.append(bytes(b))
        if len(out) > n:
            break
    return out


def jpeg_with_exif_rotation(rgb: np.ndarray) -> bytes:
    """A JPEG of `rgb` whose EXIF says "rotate 90° clockwise to display" (orientation 6), written by Pillow."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def _status(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as fh:
        return {k: int(v.split()[0]) // 1024 for k, v in (ln.split(":", 1) for ln in fh) if k in ("VmRSS", "VmHWM")}


def _compressed(data: bytes, fmt: str = "jpeg"):
    from sensor_msgs.msg import CompressedImage

    m = CompressedImage()
    m.format = fmt
    m.data = data
    return m


@pytest.fixture(scope="module")
def node_and_probe(ros_context, tiny_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    params = {"model_path": str(tiny_checkpoint), "network_size": "70x98", "num_threads": 1,
              "input_type": "compressed", "log_throttle": 0.0, "max_input_pixels": MAX_PIXELS}
    with node_with_probe(ros_context, tmp / "node.log", params, "/hostile", OUTPUTS, compressed=True) as running:
        yield running


def test_hostile_compressed_input(node_and_probe):
    node, probe = node_and_probe
    rgb = sample_images(1, W, H)[0]
    good_jpeg = bytes(conv.encode_compressed(rgb, "jpeg").data)
    stamp = probe.warm_up(lambda: _compressed(good_jpeg), None, OUTPUTS, T0)
    for _ in range(3):  # steady state: buffers allocated, caches warm
        probe.send(_compressed(good_jpeg), stamp)
        assert probe.wait_outputs(stamp, OUTPUTS, 20)
        stamp += 1_000_000_000
    bomb = png_bomb()
    assert len(bomb) < 1_000_000
    bad = [(bomb, "png", "PNG image 20000x20000 has 400000000 pixels, over max_input_pixels"),
           (jpeg_claiming(good_jpeg, 60000, 60000), "jpeg", "JPEG image 60000x60000"),
           *[(c, "jpeg", "corrupt JPEG") for c in corrupt_jpegs(good_jpeg, 4)]]
    before = _status(node.proc.pid)
    bad_stamps = []
    for data, fmt, _ in bad:
        probe.send(_compressed(data, fmt), stamp + 1)
        bad_stamps.append(stamp + 1)
        probe.spin_for(0.25)
        probe.send(_compressed(good_jpeg), stamp + 2)
        assert probe.wait_outputs(stamp + 2, OUTPUTS, 20), f"good frame after {fmt} lost\n{node.text()[-2000:]}"
        stamp += 1_000_000_000
    after = _status(node.proc.pid)
    print("node memory MiB before/after the bad frames:", before, after)
    assert after["VmHWM"] - before["VmHWM"] < 32, (before, after)  # the bomb was never decoded
    assert after["VmRSS"] - before["VmRSS"] < 32, (before, after)
    for s in bad_stamps:
        assert all(s not in probe.received[t] for t in OUTPUTS)
    log = node.text()
    for _, _, text in bad:
        assert text in log, text

    # EXIF orientation: a standard reader that honours it rotates the image; the node must not
    exif_jpeg = jpeg_with_exif_rotation(rgb)
    assert cv2.imdecode(np.frombuffer(exif_jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (W, H, 3)
    probe.send(_compressed(exif_jpeg), stamp)
    assert probe.wait_outputs(stamp, OUTPUTS, 20), node.text()[-2000:]
    rel = probe.received["depth/relative"][stamp]
    assert (rel.width, rel.height) == (W, H)
    assert probe.spin_until(lambda: int(probe.latest_diagnostics("/hostile/depth_anything")
                                        .get("frames_skipped_bad_input", -1)) == len(bad), 5)
    assert node.alive()
