"""Which JPEG decoder notices corrupt data: OpenCV, Pillow (strict full load) and simplejpeg (strict).

    .venv/bin/python benchmarks/jpeg_strictness.py

A 640x480 demo frame at quality 90; a copy truncated to half with an end-of-image marker appended, and
20 copies with 8 bits flipped in the entropy-coded data (seeds 0..19). Prints, per decoder, whether the good
frame decodes, whether the truncated one is refused, how many flipped ones are refused, and the decode time.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import simplejpeg
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    bgr = cv2.resize(cv2.imread(str(sorted((ROOT / "demo" / "frames").glob("*.jpg"))[0])), (640, 480))
    good = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    truncated = good[: len(good) // 2] + b"\xff\xd9"
    flipped = []
    for seed in range(20):
        b, rng = bytearray(good), np.random.default_rng(seed)
        for _ in range(8):
            b[int(rng.integers(len(good) // 4, len(good) - 4))] ^= 1 << int(rng.integers(0, 8))
        flipped.append(bytes(b))

    def opencv(d):
        return cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR) is not None

    def pillow(d):
        try:
            Image.open(io.BytesIO(d)).load()
            return True
        except Exception:  # noqa: BLE001 - any refusal counts
            return False

    def strict(d):
        try:
            simplejpeg.decode_jpeg(d, colorspace="RGB", strict=True)
            return True
        except ValueError:
            return False

    for name, decode in (("OpenCV imdecode", opencv), ("Pillow, full load", pillow), ("simplejpeg strict", strict)):
        t = time.perf_counter()
        for _ in range(50):
            decode(good)
        ms = (time.perf_counter() - t) / 50 * 1e3
        print(f"{name:18s} good: {'ok' if decode(good) else 'REFUSED'}; truncated+EOI refused: "
              f"{not decode(truncated)}; flipped refused: {sum(not decode(f) for f in flipped)}/20; {ms:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
