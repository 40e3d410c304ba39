"""int8 calibration frames: from an image folder, a rosbag2 or the synthetic engine, preprocessed for the model.

The frames go through the same `Preprocessor` as inference, at the network size, so the activation
ranges measured are those the model sees at run time. The set's identity (source, count, sha256 of
the preprocessed frames) is recorded in the int8 file's metadata.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..preprocess import Preprocessor

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class CalibrationError(RuntimeError):
    """The calibration frames cannot be read; the message is one line."""


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


@dataclass
class CalibrationSet:
    """Preprocessed frames for int8 calibration and the identity that goes into the metadata."""

    source: str           # "folder:/data/cam", "rosbag:/bags/run1,rgb=/camera/image", "synthetic:16"
    frames: list[np.ndarray]  # float32 (1, 3, h, w) each
    sha256: str           # of the preprocessed frames' bytes, in order

    @property
    def count(self) -> int:
        return len(self.frames)

    def identity(self, method: str) -> dict:
        return {"source": self.source, "count": self.count, "sha256": self.sha256, "method": method}


def _rgb_frames_folder(path: str, limit: int) -> Iterator[np.ndarray]:
    from ...depth_io import read_rgb

    for file in list_images(path, limit):
        try:
            yield read_rgb(file)
        except ValueError as exc:  # one unreadable file does not spoil the set
            log.warning("calibration: skipping %s", exc)


def _rgb_frames_rosbag(path: str, options: dict[str, str], limit: int) -> Iterator[np.ndarray]:
    """Camera frames of a rosbag2 (depth not needed), decoded by the one message rule (`messages.camera_msg_to_rgb`)."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    from ...data.readers.rosbag import COMPRESSED, IMAGE
    from ...messages import camera_msg_to_rgb

    if not Path(path).exists():
        raise ValueError(f"{path}: no such rosbag2")
    with AnyReader([Path(path)], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        topic = options.get("rgb")
        if topic is None:
            images = [t for t, m in topics.items() if m in (IMAGE, COMPRESSED) and "depth" not in t.lower()]
            if len(images) != 1:
                raise ValueError(f"{path}: {len(images)} camera topics ({', '.join(images) or 'none'}); "
                                 "name one with ,rgb=TOPIC")
            topic = images[0]
        if topic not in topics:
            raise ValueError(f"{path}: no topic {topic}")
        conns = [c for c in reader.connections if c.topic == topic]
        total = sum(c.msgcount for c in conns)
        keep = set(np.linspace(0, total - 1, min(limit, total)).round().astype(int).tolist()) if total else set()
        for i, (conn, _t, raw) in enumerate(reader.messages(connections=conns)):
            if i in keep:
                yield camera_msg_to_rgb(reader.deserialize(raw, conn.msgtype))


def _rgb_frames_synthetic(count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    from ...data.synthetic.stream import render_frames

    for sample in render_frames("labeled", 0, count, height=size[0], width=size[1], renderer="auto"):
        yield sample.image


def calibration_set(spec: str, size: tuple[int, int], limit: int = 64) -> CalibrationSet:
    """Frames named by `spec`: `folder:DIR`, `rosbag:PATH[,rgb=TOPIC,...]` or `synthetic:N` (N rendered frames).

    Frames go through the inference `Preprocessor` at the network `size`, so the ranges measured
    are those the model sees at run time. `limit` caps the count (evenly spaced over a folder/bag).
    """
    head, *opts = spec.split(",")
    kind, _, arg = head.partition(":")
    options = dict(o.partition("=")[::2] for o in opts)
    if kind == "folder":
        frames = _rgb_frames_folder(arg, limit)
        source = f"folder:{Path(arg).resolve()}"
    elif kind == "rosbag":
        frames = _rgb_frames_rosbag(arg, options, limit)
        source = f"rosbag:{Path(arg).resolve()}" + "".join(f",{k}={v}" for k, v in sorted(options.items()))
    elif kind == "synthetic":
        try:
            count = int(arg or 16)
        except ValueError:
            raise CalibrationError(f"calibration spec {spec!r}: synthetic:N needs a frame count") from None
        frames = _rgb_frames_synthetic(min(count, limit), size)
        source = "synthetic:labeled,seed=0"
    else:
        raise CalibrationError(f"calibration spec {spec!r}: expected folder:DIR, rosbag:PATH or synthetic:N")
    pre = Preprocessor(size)
    out, h = [], hashlib.sha256()
    try:
        for rgb in frames:
            batch = np.ascontiguousarray(pre(rgb), dtype=np.float32)
            h.update(batch.tobytes())
            out.append(batch)
    except Exception as exc:  # a missing / empty folder, an unreadable bag (rosbags' own errors too)
        raise CalibrationError(f"calibration spec {spec!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not out:
        raise CalibrationError(f"calibration spec {spec!r}: no readable frames")
    return CalibrationSet(source, out, h.hexdigest())
