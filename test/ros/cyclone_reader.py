"""A non-ROS DDS reader of the node's topics: Eclipse Cyclone DDS through its Python binding, with its own IDL.

What a robot on rmw_cyclonedds runs, without any ROS code: the ROS 2 message types written out as IDL
structs with the DDS names rmw uses (`<pkg>::msg::dds_::<Type>_`, topics `rt/<name>`), read with stock
Cyclone settings (no compatibility switches), on 127.0.0.1 only.

    python test/ros/cyclone_reader.py OUT.pickle SECONDS [reliable|best_effort] TOPIC...

The process reads `ROS_DOMAIN_ID` for the domain and writes {topic: {stamp_ns: fields dict}} (the last
sample per stamp) to OUT.pickle when SECONDS have passed or when it gets SIGINT/SIGTERM. While running
it prints one line per topic whenever a topic gets its first sample ("first <topic>").
"""
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# 127.0.0.1 only: the interface, no multicast, the loopback peer (SPDP by unicast to the participant ports)
CYCLONE_LOOPBACK_CONFIG = """<CycloneDDS><Domain id="any">
  <General><Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces><AllowMulticast>false</AllowMulticast></General>
  <Discovery><Peers><Peer address="127.0.0.1"/></Peers><ParticipantIndex>auto</ParticipantIndex>
    <MaxAutoParticipantIndex>40</MaxAutoParticipantIndex></Discovery>
  <Internal><SocketReceiveBufferSize min="{rcvbuf}"/></Internal>
</Domain></CycloneDDS>"""


def cyclone_uri(receive_buffer="default"):
    """CYCLONEDDS_URI value for a loopback-only participant (`receive_buffer`: e.g. "4MB" or "default")."""
    return CYCLONE_LOOPBACK_CONFIG.format(rcvbuf=receive_buffer).replace("\n", "")


# The ROS 2 message types as IDL (field order and types as in the .msg files; DDS names as rmw makes them)
@dataclass
class Time_(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: t.int32
    nanosec: t.uint32

@dataclass
class Header_(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time_
    frame_id: str

@dataclass
class Image_(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header_
    height: t.uint32
    width: t.uint32
    encoding: str
    is_bigendian: t.uint8
    step: t.uint32
    data: t.sequence[t.uint8]

@dataclass
class RegionOfInterest_(IdlStruct, typename="sensor_msgs::msg::dds_::RegionOfInterest_"):
    x_offset: t.uint32
    y_offset: t.uint32
    height: t.uint32
    width: t.uint32
    do_rectify: bool

@dataclass
class CameraInfo_(IdlStruct, typename="sensor_msgs::msg::dds_::CameraInfo_"):
    header: Header_
    height: t.uint32
    width: t.uint32
    distortion_model: str
    d: t.sequence[t.float64]
    k: t.array[t.float64, 9]
    r: t.array[t.float64, 9]
    p: t.array[t.float64, 12]
    binning_x: t.uint32
    binning_y: t.uint32
    roi: RegionOfInterest_

@dataclass
class PointField_(IdlStruct, typename="sensor_msgs::msg::dds_::PointField_"):
    name: str
    offset: t.uint32
    datatype: t.uint8
    count: t.uint32

@dataclass
class PointCloud2_(IdlStruct, typename="sensor_msgs::msg::dds_::PointCloud2_"):
    header: Header_
    height: t.uint32
    width: t.uint32
    fields: t.sequence[PointField_]
    is_bigendian: bool
    point_step: t.uint32
    row_step: t.uint32
    data: t.sequence[t.uint8]
    is_dense: bool

@dataclass
class KeyValue_(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str
    value: str

@dataclass
class DiagnosticStatus_(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    level: t.byte
    name: str
    message: str
    hardware_id: str
    values: t.sequence[KeyValue_]

@dataclass
class DiagnosticArray_(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"):
    header: Header_
    status: t.sequence[DiagnosticStatus_]


TYPES = {"image": Image_, "camera_info": CameraInfo_, "points": PointCloud2_, "diagnostics": DiagnosticArray_}


def type_for_topic(topic, types):
    if topic.endswith("camera_info"):
        return types["camera_info"]
    if topic.endswith("points"):
        return types["points"]
    if topic.endswith("diagnostics"):
        return types["diagnostics"]
    return types["image"]


def _plain(sample):
    """An IDL sample -> plain Python (bytes for the data sequences), picklable without cyclonedds."""
    import dataclasses

    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, list) and v and isinstance(v[0], int) and len(v) > 64:
            return bytes(v)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(sample)


class CycloneReader:
    """This script as a subprocess (the test's and the benchmark's handle); `first` holds the topics that got a sample."""

    def __init__(self, out_path, topics, seconds=120.0, reliability="reliable", rcvbuf="default"):
        from depth_anything_ros.ros.env import child_env

        env = child_env()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["CYCLONEDDS_URI"] = cyclone_uri(rcvbuf)
        self.out_path = out_path
        self.first = set()
        self.lines = []
        self.proc = subprocess.Popen([sys.executable, __file__, str(out_path),
                                      str(seconds), reliability, *topics], env=env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("first "):
                self.first.add(line.split(None, 1)[1].strip())

    def finish(self):
        self.proc.send_signal(2)
        assert self.proc.wait(30) == 0, "\n".join(self.lines[-30:])
        with open(self.out_path, "rb") as fh:
            return pickle.load(fh)


def main(argv):
    out_path, seconds, reliability, topics = argv[0], float(argv[1]), argv[2], argv[3:]
    from cyclonedds.core import Policy, Qos
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic
    from cyclonedds.util import duration

    types = TYPES
    dp = DomainParticipant(int(os.environ["ROS_DOMAIN_ID"]))
    rel = (Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)) if reliability == "reliable"
           else Policy.Reliability.BestEffort)
    qos = Qos(rel, Policy.History.KeepLast(20), Policy.Durability.Volatile)
    readers = {}
    for name in topics:
        dds_name = "rt/" + name.lstrip("/")
        readers[name] = DataReader(dp, Topic(dp, dds_name, type_for_topic(name, types)), qos=qos)
    got = {n: {} for n in topics}
    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while not stop["now"] and time.monotonic() < end:
        idle = True
        for name, reader in readers.items():
            for s in reader.take(N=20):
                if not hasattr(s, "header"):  # an invalid (lifecycle) sample
                    continue
                idle = False
                stamp = s.header.stamp.sec * 1_000_000_000 + s.header.stamp.nanosec
                if not got[name]:
                    print(f"first {name}", flush=True)
                got[name][stamp] = _plain(s)
        if idle:
            time.sleep(0.005)
    with open(out_path, "wb") as fh:
        pickle.dump(got, fh)
    print("done " + " ".join(f"{n}={len(v)}" for n, v in got.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
