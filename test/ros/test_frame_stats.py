"""FrameStats' drop rule on scripted callback orders: the oracle is the list of frames the scripted camera sent
and the images the scripted node took (no middleware timing involved, so each order is reproducible)."""
from __future__ import annotations

from depth_anything_ros.ros.diagnostics import FrameStats


def _play(stats, stamps, taken, info_after_image=()):
    """camera_info for every stamp, the image only for `taken`; for stamps in `info_after_image` the image
    callback runs before that frame's camera_info (two callback groups, two threads)."""
    for s in stamps:
        if s in taken and s in info_after_image:
            stats.on_received(s)
            stats.on_camera_info(s)
            continue
        stats.on_camera_info(s)
        if s in taken:
            stats.on_received(s)


def test_frames_lost_just_before_an_outage_are_drops_and_the_outage_is_the_cameras_silence():
    stats = FrameStats()
    burst = [100.0 + i * 0.01 for i in range(102)]  # 100 Hz, the node takes every 3rd frame
    taken = set(burst[::3])
    _play(stats, burst, taken, info_after_image=set(burst[::6]))
    after = [burst[-1] + 2.5 + i * 0.1 for i in range(1, 7)]  # the camera stops for 2.5 s, then 10 Hz
    _play(stats, after, set(after))
    sent = burst + after
    assert burst[-1] not in taken  # the last frames before the outage were not taken
    assert stats.gap_dropped == sum(1 for s in sent if s not in taken and s not in after)
    assert stats.outages == 1
    assert abs(stats.outage_s - (after[0] - burst[-1])) < 1e-9


def test_without_camera_info_a_skipped_frame_is_estimated_from_the_stamp_gaps():
    stats = FrameStats()
    stamps = [10.0 + i * 0.1 for i in range(30)]
    skipped = {stamps[12], stamps[20], stamps[21]}
    for s in stamps:
        if s not in skipped:
            stats.on_received(s)
    assert stats.gap_dropped == 3 and stats.outages == 0
