"""What a Cyclone DDS robot receives from the node: fraction of frames per topic at 640x480 with the cloud.

    unshare -n bash -c 'ip link set lo up; .venv/bin/python benchmarks/cyclone_receive.py \
        [--frames 30] [--rate 5] [--reader reliable|best_effort] [--output-depth 3] [--rcvbuf 4MB]'

The node runs as a process (shipped profile and parameter file, the demo model), a camera in this process
publishes 640x480 rgb8 frames at `--rate`, and `test/ros/cyclone_reader.py` (Eclipse Cyclone DDS, its own IDL,
127.0.0.1 only) reads every output. Prints received/sent per topic and the UDP datagrams sent in this network
namespace (from /proc/net/snmp: run it under `unshare -n` so that only this run's traffic is counted).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test" / "ros")]

OUTPUTS = ("depth/image", "depth/camera_info", "depth/points", "depth/colored")


def udp_out_datagrams() -> int:
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines() if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("OutDatagrams")])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--reader", default="reliable", choices=("reliable", "best_effort"))
    ap.add_argument("--output-depth", type=int, default=3, help="the node's output_qos.depth")
    ap.add_argument("--rcvbuf", default="default", help="Cyclone SocketReceiveBufferSize min (e.g. 4MB)")
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    from depth_anything_ros.ros.env import isolate_this_process

    tmp = Path(tempfile.mkdtemp(prefix="cyclone_receive_"))
    isolate_this_process(log_dir=str(tmp / "log"))
    import rclpy

    from _node_common import demo_frame, model_for_timing  # noqa: E402
    from harness import NodeProcess, Probe, camera_info_for  # noqa: E402
    from cyclone_reader import CycloneReader  # noqa: E402

    from depth_anything_ros.ros import conversions as conv

    model, _ = model_for_timing(args.model)
    rgb, K = demo_frame(640, 480)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = NodeProcess(tmp / "node.log", {"model_path": str(model), "num_threads": 1,
                                          "output_qos.depth": args.output_depth})
    probe = Probe(ctx, "camera", outputs=OUTPUTS)  # also the rclpy (Fast DDS) reference reader
    reader = CycloneReader(tmp / "got.pickle", OUTPUTS, seconds=600, reliability=args.reader,
                           rcvbuf=args.rcvbuf)
    info = camera_info_for(K, 640, 480)
    try:
        assert probe.spin_until(lambda: probe.image_pub.get_subscription_count() > 0, 60), node.text()[-2000:]
        stamp = 1_000_000_000_000_000_000
        end = time.monotonic() + 60
        while not reader.first >= set(OUTPUTS) and time.monotonic() < end:  # warm-up: Cyclone matched everything
            probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp, info)
            probe.spin_for(1.0)
            stamp += 1_000_000_000
        time.sleep(1.0)
        d0, t0 = udp_out_datagrams(), time.monotonic()
        sent = []
        for i in range(args.frames):
            stamp += 1_000_000_000
            probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp, info if i == 0 else None)
            sent.append(stamp)
            probe.spin_until(lambda: False, max(0.0, t0 + (i + 1) / args.rate - time.monotonic()))
        probe.spin_for(2.0)
        datagrams = udp_out_datagrams() - d0
        got = reader.finish()
    finally:
        probe.close()
        if reader.proc.poll() is None:
            reader.proc.kill()
        node.stop()
        rclpy.shutdown(context=ctx)
    print(f"640x480 rgb8 at {args.rate:g} Hz, {args.frames} frames; node output_qos reliable depth "
          f"{args.output_depth}; Cyclone reader {args.reader}, receive buffer {args.rcvbuf}")
    print(f"  {'topic':20s} {'Cyclone':>8s} {'rclpy':>6s}  (of the {len(sent)} frames sent)")
    for t in OUTPUTS:
        ref = [s for s in sent if s in probe.received[t]]
        n = sum(s in got[t] for s in ref)
        print(f"  {t:20s} {n:8d} {len(ref):6d}  Cyclone/rclpy {n / max(len(ref), 1):.2f}")
    print(f"  UDP datagrams sent in this namespace: {datagrams}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
