"""Readers on small files written here in the real formats (PNG, HDF5 .mat, KITTI PNG/256, rosbag2)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from depth_anything_ros.data.readers import (KITTIEigen, NYUv2Labeled, RGBDFolder, eigen_crop_nyu, garg_crop,
                                   open_dataset)

RNG = np.random.default_rng(0)


def _rgb(h, w):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _check_sample(s, h, w):
    assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8
    assert s.depth.shape == (h, w) and s.depth.dtype == np.float32
    assert s.valid.dtype == bool and s.K.shape == (3, 3) and s.K.dtype == np.float64
    assert np.all(s.depth[~s.valid] == 0) or np.all(np.isnan(s.depth[~s.valid]))


def test_rgbd_folder_png_and_npy(tmp_path):
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    K = [[100.0, 0, 15.5], [0, 100.0, 11.5], [0, 0, 1]]
    (tmp_path / "intrinsics.json").write_text(json.dumps({"K": K, "max_depth": 10.0,
                                                          "frames": {"b": {"fx": 50, "fy": 51, "cx": 1, "cy": 2}}}))
    rgb_a, rgb_b = _rgb(24, 32), _rgb(24, 32)
    cv2.imwrite(str(tmp_path / "rgb" / "a.png"), rgb_a[..., ::-1])
    cv2.imwrite(str(tmp_path / "rgb" / "b.png"), rgb_b[..., ::-1])
    mm = RNG.integers(500, 9000, (24, 32)).astype(np.uint16)
    mm[0, :5] = 0
    cv2.imwrite(str(tmp_path / "depth" / "a.png"), mm)
    d = RNG.uniform(1, 5, (24, 32)).astype(np.float32)
    d[3, 3], d[4, 4] = np.nan, np.inf
    np.save(tmp_path / "depth" / "b.npy", d)
    ds = RGBDFolder(tmp_path)
    assert len(ds) == 2 and ds.max_depth == 10.0
    a, b = ds[0], ds[1]
    _check_sample(a, 24, 32)
    assert np.array_equal(a.image, rgb_a)
    np.testing.assert_allclose(a.depth[a.valid], mm[mm > 0] / 1000.0, rtol=1e-6)
    assert a.valid.sum() == (mm > 0).sum() and np.array_equal(a.K, np.array(K))
    assert not b.valid[3, 3] and not b.valid[4, 4] and b.K[0, 0] == 50 and b.K[1, 2] == 2
    assert len(open_dataset(f"folder:{tmp_path}")) == 2


def test_nyu_mat_hdf5(tmp_path):
    import h5py

    n, h, w = 3, 480, 640
    rgb = RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    depth = RNG.uniform(0.5, 9.0, (n, h, w)).astype(np.float32)
    depth[1, 10, 20] = 0.0
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(path, "w") as f:  # MATLAB v7.3 layout: axes reversed relative to MATLAB's 480x640x3xN
        f["images"] = rgb.transpose(0, 3, 2, 1)
        f["depths"] = depth.transpose(0, 2, 1)
    (tmp_path / "test.txt").write_text("2 3\n")
    ds = NYUv2Labeled(path, split_file=tmp_path / "test.txt")
    assert len(ds) == 2 and ds.min_depth == 1e-3 and ds.max_depth == 10.0
    s = ds[0]
    _check_sample(s, h, w)
    assert np.array_equal(s.image, rgb[1]) and np.array_equal(s.depth, depth[1])
    assert not s.valid[10, 20] and s.valid.sum() == h * w - 1
    crop = ds.eval_crop(h, w)
    assert crop.sum() == (471 - 45) * (601 - 41) and crop[45, 41] and not crop[44, 41] and not crop[45, 601]
    assert np.array_equal(crop, eigen_crop_nyu(h, w))
    assert len(open_dataset(f"nyu:{path}")) == 3


def test_kitti_eigen(tmp_path):
    h, w = 375, 1242
    date, drive = "2011_09_26", "2011_09_26_drive_0002_sync"
    img_rel = f"{date}/{drive}/image_02/data/0000000069.png"
    dep_rel = f"{drive}/proj_depth/groundtruth/image_02/0000000069.png"
    (tmp_path / img_rel).parent.mkdir(parents=True)
    (tmp_path / "gt" / dep_rel).parent.mkdir(parents=True)
    rgb = _rgb(h, w)
    cv2.imwrite(str(tmp_path / img_rel), rgb[..., ::-1])
    d = np.zeros((h, w), np.uint16)
    ys, xs = RNG.integers(0, h, 4000), RNG.integers(0, w, 4000)
    d[ys, xs] = RNG.integers(256, 80 * 256, 4000)
    cv2.imwrite(str(tmp_path / "gt" / dep_rel), d)
    (tmp_path / date / "calib_cam_to_cam.txt").write_text(
        "P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 "
        "1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03\n")
    split = tmp_path / "eigen_test_files_with_gt.txt"
    split.write_text(f"{img_rel} {dep_rel} 721.5377\n{img_rel} None 721.5377\n")
    ds = KITTIEigen(tmp_path, split, depth_root=tmp_path / "gt")
    assert len(ds) == 1 and ds.max_depth == 80.0
    s = ds[0]
    _check_sample(s, 352, 1216)
    top, left = h - 352, (w - 1216) // 2
    assert np.array_equal(s.image, rgb[top:, left:left + 1216])
    dc = d[top:, left:left + 1216]
    np.testing.assert_allclose(s.depth[s.valid], dc[dc > 0] / 256.0, rtol=1e-6)
    assert s.K[0, 2] == pytest.approx(609.5593 - left) and s.K[1, 2] == pytest.approx(172.854 - top)
    crop = ds.eval_crop(352, 1216)
    assert np.array_equal(crop, garg_crop(352, 1216)) and crop[int(0.40810811 * 352), int(0.03594771 * 1216)]
    assert not crop[int(0.40810811 * 352) - 1, 600]
    ds2 = open_dataset(f"kitti:{tmp_path},depth_root={tmp_path / 'gt'},kb_crop=0")
    assert ds2[0].image.shape == (h, w, 3)


def test_open_dataset_errors(tmp_path):
    with pytest.raises(ValueError):
        open_dataset("nosuch:x")
    with pytest.raises(ValueError):
        open_dataset("folder")
    with pytest.raises(FileNotFoundError):
        open_dataset(f"synthetic:{tmp_path / 'missing'}")


# ----------------------------------------------------------------------------- rosbag2
def _ros_types():
    """The ROS 2 Humble typestore of `rosbags` and the message classes the bags below use."""
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    return (ts, T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"], T["sensor_msgs/msg/Image"],
            T["sensor_msgs/msg/CameraInfo"], T["sensor_msgs/msg/PointCloud2"], T["sensor_msgs/msg/PointField"],
            T["sensor_msgs/msg/RegionOfInterest"])


def _write_bag(path, lidar: bool, D=(0.0,) * 5, points=None):
    """Three RGB + depth (or LiDAR: `points` for each frame, else a fixed set) frames; a plumb_bob CameraInfo with D."""
    from rosbags.rosbag2 import Writer

    ts, Header, Time, Image, Info, Cloud, Field, Roi = _ros_types()
    h, w = 24, 32
    K = np.array([[30.0, 0, 15.5], [0, 30.0, 11.5], [0, 0, 1]])
    frames = []

    def hdr(t):
        return Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="camera_optical")

    with Writer(path, version=9) as wr:
        c_rgb = wr.add_connection("/camera/color/image_raw", Image.__msgtype__, typestore=ts)
        c_info = wr.add_connection("/camera/color/camera_info", Info.__msgtype__, typestore=ts)
        c_dep = (wr.add_connection("/lidar/points", Cloud.__msgtype__, typestore=ts) if lidar else
                 wr.add_connection("/camera/aligned_depth_to_color/image_raw", Image.__msgtype__, typestore=ts))
        for i in range(3):
            t = 10**9 + i * 100_000_000
            rgb = _rgb(h, w)
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            wr.write(c_rgb, t, ts.serialize_cdr(Image(header=hdr(t), height=h, width=w, encoding="bgr8", is_bigendian=0,
                                                      step=w * 3, data=bgr.reshape(-1)), Image.__msgtype__))
            info = Info(header=hdr(t), height=h, width=w, distortion_model="plumb_bob", d=np.array(D, float),
                        k=K.reshape(-1), r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                        roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            wr.write(c_info, t, ts.serialize_cdr(info, Info.__msgtype__))
            td = t + 5_000_000  # 5 ms later: within the default 20 ms tolerance
            if lidar:
                pts = np.array([[0.0, 0.0, 2.0 + i], [1.0, 0.5, 4.0], [2.0, 1.0, 8.0], [1.0, 0.5, 3.0], [0.0, 0.0, -1.0]],
                               np.float32) if points is None else np.asarray(points, np.float32)
                data = np.zeros((len(pts), 4), np.float32)
                data[:, :3] = pts
                fields = [Field(name=n, offset=4 * j, datatype=7, count=1) for j, n in enumerate("xyz")]
                msg = Cloud(header=hdr(td), height=1, width=len(pts), fields=fields, is_bigendian=False,
                            point_step=16, row_step=16 * len(pts), data=data.view(np.uint8).reshape(-1), is_dense=True)
                wr.write(c_dep, td, ts.serialize_cdr(msg, Cloud.__msgtype__))
                frames.append((rgb, pts))
            else:
                mm = RNG.integers(0, 5000, (h, w)).astype(np.uint16)
                msg = Image(header=hdr(td), height=h, width=w, encoding="16UC1", is_bigendian=0, step=w * 2,
                            data=mm.view(np.uint8).reshape(-1))
                wr.write(c_dep, td, ts.serialize_cdr(msg, Image.__msgtype__))
                frames.append((rgb, mm))
        # an RGB frame with no depth partner within tolerance is dropped
        t = 10**9 + 900_000_000
        wr.write(c_rgb, t, ts.serialize_cdr(Image(header=hdr(t), height=h, width=w, encoding="rgb8", is_bigendian=0,
                                                  step=w * 3, data=_rgb(h, w).reshape(-1)), Image.__msgtype__))
    return frames, K


def test_rosbag_aligned_depth(tmp_path):
    from depth_anything_ros.data.readers import RosbagRGBD

    frames, K = _write_bag(tmp_path / "bag", lidar=False)
    ds = RosbagRGBD(tmp_path / "bag")
    assert ds.rgb_topic == "/camera/color/image_raw" and ds.depth_topic.endswith("aligned_depth_to_color/image_raw")
    assert len(ds) == 3
    for i, (rgb, mm) in enumerate(frames):
        s = ds[i]
        _check_sample(s, 24, 32)
        assert np.array_equal(s.image, rgb) and np.array_equal(s.K, K)
        np.testing.assert_allclose(s.depth, mm / 1000.0, rtol=1e-6)
        assert np.array_equal(s.valid, mm > 0)
    assert len(RosbagRGBD(tmp_path / "bag", tolerance=0.001)) == 0


def test_rosbag_compressed_color_decodes_like_opencv_and_refuses_a_corrupt_jpeg(tmp_path):
    """A JPEG camera topic (image_transport's `compressed`): decoded by the node's strict rule, checked against
    OpenCV's own decoder; a truncated frame is an error naming the reason, not a damaged sample."""
    from rosbags.rosbag2 import Writer

    from depth_anything_ros.data.readers import RosbagRGBD

    ts, Header, Time, Image, Info, *_ = _ros_types()
    Compressed = ts.types["sensor_msgs/msg/CompressedImage"]
    h, w = 48, 64
    rgb = cv2.GaussianBlur(_rgb(h, w), (5, 5), 0)
    jpeg = cv2.imencode(".jpg", rgb[..., ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].reshape(-1)
    frames = [jpeg, np.concatenate([jpeg[: len(jpeg) // 2], jpeg[-2:]])]  # the second cut short, EOI kept
    with Writer(tmp_path / "bag", version=9) as wr:
        c_rgb = wr.add_connection("/camera/color/image_raw/compressed", Compressed.__msgtype__, typestore=ts)
        c_dep = wr.add_connection("/camera/depth/image_raw", Image.__msgtype__, typestore=ts)
        for i, data in enumerate(frames):
            t = 10**9 + i * 100_000_000
            hdr = Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="camera_optical")
            wr.write(c_rgb, t, ts.serialize_cdr(Compressed(header=hdr, format="rgb8; jpeg compressed bgr8", data=data),
                                                Compressed.__msgtype__))
            mm = np.full((h, w), 1500, np.uint16)
            wr.write(c_dep, t, ts.serialize_cdr(Image(header=hdr, height=h, width=w, encoding="16UC1", is_bigendian=0,
                                                      step=w * 2, data=mm.view(np.uint8).reshape(-1)), Image.__msgtype__))
    ds = RosbagRGBD(tmp_path / "bag", K=[[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    assert len(ds) == 2
    oracle = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    assert np.abs(ds[0].image.astype(int) - oracle).max() <= 1
    np.testing.assert_allclose(ds[0].depth, 1.5)
    with pytest.raises(ValueError, match="corrupt JPEG"):
        ds[1]


def test_rosbag_lidar_projection(tmp_path):
    frames, K = _write_bag(tmp_path / "bag", lidar=True)
    ds = open_dataset(f"rosbag:{tmp_path / 'bag'},tolerance=0.01")
    assert ds.lidar_topic == "/lidar/points" and len(ds) == 3
    s = ds[1]
    _check_sample(s, 24, 32)
    assert s.valid.sum() == 3  # the point behind the camera is dropped; two points share a pixel
    assert s.depth[12, 16] == pytest.approx(3.0)  # (0, 0, 3) -> (15.5, 11.5) rounds to column 16, row 12
    assert s.depth[16, 26] == pytest.approx(3.0)  # (1, 0.5, 3) -> (25.5, 16.5)
    assert s.depth[15, 23] == pytest.approx(4.0)  # (1, 0.5, 4) and (2, 1, 8) share (23, 15): the nearest wins


def test_rosbag_lidar_projection_through_the_lens(tmp_path):
    """A distorted camera (plumb_bob D in its CameraInfo): each LiDAR point lands on the pixel whose ray OpenCV's
    inverse (undistortPoints, run to convergence here) gives for it, not where a pinhole K would put it."""
    D = np.array([-0.3, 0.09, 0.001, -0.002, 0.0])
    K = np.array([[30.0, 0, 15.5], [0, 30.0, 11.5], [0, 0, 1]])  # the K _write_bag writes
    v, u = np.mgrid[1:24:3, 1:32:3]
    uv = np.stack([u.ravel(), v.ravel()], 1).astype(np.float64)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    rays = cv2.undistortPoints(uv.reshape(-1, 1, 2), K, D, criteria=crit).reshape(-1, 2)
    from depth_anything_ros.data.readers import RosbagRGBD

    z = RNG.uniform(1.0, 9.0, len(uv))
    pts = np.concatenate([rays, np.ones((len(uv), 1))], 1) * z[:, None]
    _write_bag(tmp_path / "bag", lidar=True, D=D, points=pts)
    s = RosbagRGBD(tmp_path / "bag", tolerance=0.01)[0]
    assert s.valid.sum() == len(uv)
    np.testing.assert_allclose(s.depth[v.ravel(), u.ravel()], z.astype(np.float32), rtol=1e-6)
    pinhole = RosbagRGBD(tmp_path / "bag", tolerance=0.01, K=K)[0]  # an explicit K: no distortion
    assert (pinhole.depth[v.ravel(), u.ravel()] != s.depth[v.ravel(), u.ravel()]).mean() > 0.3  # the outer ring moves


def test_export_rosbag_to_folder(tmp_path):
    from training import data_cli

    frames, K = _write_bag(tmp_path / "bag", lidar=False)
    assert data_cli.main(["export", "--dataset", f"rosbag:{tmp_path / 'bag'}", "--out", str(tmp_path / "f")]) == 0
    ds = RGBDFolder(tmp_path / "f")
    assert len(ds) == 3
    s = ds[2]
    assert np.array_equal(s.image, frames[2][0]) and np.array_equal(s.K, K)
    np.testing.assert_allclose(s.depth, frames[2][1] / 1000.0, rtol=1e-6)


# ----------------------------------------------------------------------------- rosbag2: LiDAR and multi-sensor
def _write_lidar_bag(path, cam_hz=30.0, lidar_hz=10.0, seconds=2.0, lidar_offset_ns=5_000_000, gap=None,
                     two_infos=False, storage="sqlite3"):
    """A camera at `cam_hz`, a LiDAR at `lidar_hz` (x forward, y left, z up) with two points, 2 m ahead and 5 m
    ahead 1 m to the right; camera frames inside `gap` (t0, t1) ns are missing (a dropped stream)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts, Header, Time, Image, Info, Cloud, Field, Roi = _ros_types()
    h, w = 24, 32
    K = np.array([[30.0, 0, 15.5], [0, 30.0, 11.5], [0, 0, 1]])

    def hdr(t):
        return Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="f")

    def info(t, k):
        return Info(header=hdr(t), height=h, width=w, distortion_model="plumb_bob", d=np.zeros(5), k=k.reshape(-1),
                    r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                    roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    t0 = 10**9
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as wr:
        c_rgb = wr.add_connection("/cam/color/image_raw", Image.__msgtype__, typestore=ts)
        c_info = wr.add_connection("/cam/color/camera_info", Info.__msgtype__, typestore=ts)
        c_ir = wr.add_connection("/cam/infra1/camera_info", Info.__msgtype__, typestore=ts) if two_infos else None
        c_pts = wr.add_connection("/lidar/points", Cloud.__msgtype__, typestore=ts)
        events = [(t0 + round(i * 1e9 / cam_hz), "cam") for i in range(int(seconds * cam_hz))]
        events += [(t0 + lidar_offset_ns + round(i * 1e9 / lidar_hz), "lidar") for i in range(int(seconds * lidar_hz))]
        for t, kind in sorted(events):
            if kind == "cam":
                if gap and gap[0] <= t <= gap[1]:
                    continue
                img = Image(header=hdr(t), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                            data=_rgb(h, w).reshape(-1))
                wr.write(c_rgb, t, ts.serialize_cdr(img, Image.__msgtype__))
                wr.write(c_info, t, ts.serialize_cdr(info(t, K), Info.__msgtype__))
                if c_ir is not None:
                    wr.write(c_ir, t, ts.serialize_cdr(info(t, K * [[2], [2], [1]]), Info.__msgtype__))
            else:
                pts = np.array([[2.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]], np.float32)  # 2 m and 5 m ahead
                pts[1, 1] = -1.0  # 5 m ahead, 1 m to the right
                fields = [Field(name=n, offset=4 * j, datatype=7, count=1) for j, n in enumerate("xyz")]
                msg = Cloud(header=hdr(t), height=1, width=2, fields=fields, is_bigendian=False, point_step=16,
                            row_step=32, data=pts.view(np.uint8).reshape(-1), is_dense=True)
                wr.write(c_pts, t, ts.serialize_cdr(msg, Cloud.__msgtype__))
    return K


def _lidar_source(path, **kw):
    from training.config import SourceCfg
    from training.data.sources import open_source

    # LiDAR (x forward, y left, z up) in the camera optical frame (x right, y down, z forward): the rotation
    # whose columns are the LiDAR axes seen from the camera, from SciPy (the outside reference for quaternions)
    from scipy.spatial.transform import Rotation

    R = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    q = Rotation.from_matrix(R).as_quat()
    return open_source(SourceCfg(spec=f"rosbag:{path}", color_topic="/cam/color/image_raw",
                                 points_topic="/lidar/points", extrinsic=[0.0, 0.0, 0.0, *q], **kw))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_lidar_anchor_takes_the_nearest_color_frame(tmp_path, storage):
    """30 Hz camera, 10 Hz LiDAR 5 ms after a camera frame: every cloud pairs with that frame (5 ms), none with
    one 28 ms away, even under a tolerance that would allow it; pixels follow the extrinsic."""
    K = _write_lidar_bag(tmp_path / "bag", storage=storage)
    ds = _lidar_source(tmp_path / "bag", tolerance=0.05)
    p = ds.base.pairing
    assert p["anchors"] == 20 and p["pairs"] == 20 and p["dropped_too_far"] == 0
    assert p["max_offset_ms"] == pytest.approx(5.0, abs=1e-3)
    s = ds[3]
    # (2, 0, 0) in the LiDAR -> (0, 0, 2) in the camera -> principal point (15.5, 11.5) -> column 16, row 12
    assert s.valid.sum() == 2 and s.depth[12, 16] == pytest.approx(2.0)
    # (5, -1, 0) -> camera (1, 0, 5) -> u = 30 * 1 / 5 + 15.5 = 21.5 -> column 22
    assert s.depth[12, 22] == pytest.approx(5.0)
    assert np.array_equal(ds.base.K, K)


def test_anchors_too_far_from_any_color_frame_are_dropped_and_counted(tmp_path):
    # camera frames from 400 to 700 ms are missing: the clouds at 405, 505, 605 and 705 ms are 38, >95, >95
    # and 28 ms from the nearest remaining frame (367 or 733 ms), all beyond 20 ms
    _write_lidar_bag(tmp_path / "bag", gap=(10**9 + 400_000_000, 10**9 + 700_000_000))
    ds = _lidar_source(tmp_path / "bag")
    p = ds.base.pairing
    assert p["dropped_too_far"] == 4 and p["pairs"] == 16 and len(ds) == 16
    assert "dropped 4 too far in time" in ds.base.pairing_report()


def test_depth_range_and_explicit_K(tmp_path):
    _write_lidar_bag(tmp_path / "bag")
    ds = _lidar_source(tmp_path / "bag", max_depth=3.0, K=[60.0, 60.0, 15.5, 11.5])
    s = ds[0]
    assert s.valid.sum() == 1 and s.depth[12, 16] == pytest.approx(2.0)  # the 5 m point is out of range
    assert s.K[0, 0] == 60.0  # projection used the given K: (1, 0, 5) -> u = 60 / 5 + 15.5 = 27.5 (out of range)


def test_two_camera_infos_pick_the_one_next_to_the_color_topic(tmp_path):
    from depth_anything_ros.data.readers.rosbag import RosbagRGBD

    K = _write_lidar_bag(tmp_path / "bag", two_infos=True)
    ds = RosbagRGBD(tmp_path / "bag", rgb_topic="/cam/color/image_raw", lidar_topic="/lidar/points")
    assert ds.info_topic == "/cam/color/camera_info" and np.array_equal(ds.K, K)
    ir = RosbagRGBD(tmp_path / "bag", rgb_topic="/cam/color/image_raw", lidar_topic="/lidar/points",
                    info_topic="/cam/infra1/camera_info")
    assert ir.K[0, 0] == 60.0


def test_missing_topic_error_lists_the_bag(tmp_path):
    from depth_anything_ros.data.readers.rosbag import RosbagRGBD

    _write_lidar_bag(tmp_path / "bag")
    with pytest.raises(ValueError) as exc:
        RosbagRGBD(tmp_path / "bag", rgb_topic="/camera/image", lidar_topic="/lidar/points")
    msg = str(exc.value)
    assert "no topic /camera/image" in msg and "/lidar/points (sensor_msgs/msg/PointCloud2)" in msg
    with pytest.raises(ValueError, match="is sensor_msgs/msg/CameraInfo, expected"):
        RosbagRGBD(tmp_path / "bag", rgb_topic="/cam/color/camera_info", lidar_topic="/lidar/points")
