"""Write RGB-D recordings as rosbag2 with `rosbags` (the outside writer): sqlite3 or mcap, rgb8 color,
16UC1 depth in millimetres, CameraInfo, with the depth stream a few ms after the color stream."""
from __future__ import annotations

import numpy as np


def write_rgbd_bag(path, samples, storage: str = "sqlite3", period_ns: int = 100_000_000, offset_ns: int = 3_000_000,
                   color_topic: str = "/camera/color/image_raw", depth_topic: str = "/camera/depth/image_rect_raw",
                   info_topic: str = "/camera/color/camera_info", extra_info_topic: str | None = None) -> dict:
    """One message per stream per sample; returns {"stamps": color stamps ns, "K": K of the first sample}."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    Image, Info, Roi = T["sensor_msgs/msg/Image"], T["sensor_msgs/msg/CameraInfo"], T["sensor_msgs/msg/RegionOfInterest"]
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]

    def hdr(t, frame="camera_color_optical_frame"):
        return Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id=frame)

    def info_msg(t, K, h, w):
        return Info(header=hdr(t), height=h, width=w, distortion_model="plumb_bob", d=np.zeros(5), k=K.reshape(-1),
                    r=np.eye(3).reshape(-1), p=np.concatenate([K, np.zeros((3, 1))], 1).reshape(-1), binning_x=0,
                    binning_y=0, roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    stamps = []
    with Writer(path, version=9, storage_plugin=plugin) as wr:
        c_rgb = wr.add_connection(color_topic, Image.__msgtype__, typestore=ts)
        c_dep = wr.add_connection(depth_topic, Image.__msgtype__, typestore=ts)
        c_info = wr.add_connection(info_topic, Info.__msgtype__, typestore=ts)
        c_extra = wr.add_connection(extra_info_topic, Info.__msgtype__, typestore=ts) if extra_info_topic else None
        for i, s in enumerate(samples):
            t = 1_700_000_000 * 10**9 + i * period_ns
            h, w = s.depth.shape
            K = np.asarray(s.K, np.float64)
            rgb = np.ascontiguousarray(s.image)
            wr.write(c_rgb, t, ts.serialize_cdr(Image(header=hdr(t), height=h, width=w, encoding="rgb8",
                                                      is_bigendian=0, step=w * 3, data=rgb.reshape(-1)),
                                                Image.__msgtype__))
            wr.write(c_info, t, ts.serialize_cdr(info_msg(t, K, h, w), Info.__msgtype__))
            if c_extra is not None:  # e.g. an infrared camera's info with other intrinsics
                wr.write(c_extra, t, ts.serialize_cdr(info_msg(t, K * [[2], [2], [1]], h, w), Info.__msgtype__))
            ok = s.valid & np.isfinite(s.depth) & (s.depth > 0) & (s.depth < 65.535)
            mm = np.where(ok, np.round(np.nan_to_num(s.depth) * 1000.0), 0).astype(np.uint16)
            td = t + offset_ns
            wr.write(c_dep, td, ts.serialize_cdr(Image(header=hdr(td), height=h, width=w, encoding="16UC1",
                                                       is_bigendian=0, step=w * 2, data=mm.view(np.uint8).reshape(-1)),
                                                 Image.__msgtype__))
            stamps.append(t)
    return {"stamps": stamps, "K": np.asarray(samples[0].K, np.float64)}
