"""INT8 calibration data: batches of preprocessed frames from an image folder (no TensorRT needed).

The frames go through the same `Preprocessor` as inference, at the engine's network size, so the
activation ranges TensorRT measures are those it will see at run time.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from ..preprocess import Preprocessor

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str | Path, max_images: int | None = None) -> list[Path]:
    """Image files under `folder` (recursively), sorted by path; a ValueError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: calibration folder does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) to calibrate with")
    if max_images is not None and len(files) > max_images:
        # evenly spaced, so a folder of video frames is not represented by its first seconds only
        idx = np.linspace(0, len(files) - 1, max_images).round().astype(int)
        files = [files[i] for i in idx]
    return files


def _read_rgb(path: Path) -> np.ndarray | None:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class CalibrationBatches:
    """Iterates float32 (batch_size, 3, h, w) batches of a folder's images, preprocessed for the engine.

    Every batch has exactly `batch_size` frames (TensorRT's calibrator has one batch size); the
    remainder that does not fill a batch is dropped. With fewer images than `batch_size`, the batch
    size shrinks to the number of images. Unreadable files are skipped with a warning.
    """

    def __init__(self, folder: str | Path, input_size: tuple[int, int], batch_size: int = 8,
                 max_images: int | None = 512):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.files = list_images(folder, max_images)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.batch_size = min(batch_size, len(self.files))
        self.preprocessor = Preprocessor(self.input_size)

    def __len__(self) -> int:
        return len(self.files) // self.batch_size

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.batch_size, 3, *self.input_size)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * 4

    def __iter__(self) -> Iterator[np.ndarray]:
        batch = []
        for path in self.files:
            rgb = _read_rgb(path)
            if rgb is None:
                log.warning("calibration: skipping unreadable image %s", path)
                continue
            batch.append(self.preprocessor(rgb)[0])
            if len(batch) == self.batch_size:
                yield np.ascontiguousarray(np.stack(batch), dtype=np.float32)
                batch = []

    def fingerprint(self) -> str:
        """Hash of the file list (names, sizes, mtimes) and input size: names the calibration cache."""
        h = hashlib.sha256(f"{self.input_size}|{self.batch_size}".encode())
        for p in self.files:
            st = p.stat()
            h.update(f"{p.name}|{st.st_size}|{int(st.st_mtime)}".encode())
        return h.hexdigest()[:16]
