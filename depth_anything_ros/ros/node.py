"""The depth node: subscriptions, publishers, timers and the image callback (rclpy).

`DepthNodeCore` holds everything and exposes configure / activate / deactivate / cleanup, so that
the plain node (`DepthAnythingNode`: all four at construction) and the lifecycle node
(`DepthAnythingLifecycleNode`: driven by lifecycle transitions) share one implementation.

Topics (relative names; remap them):
  in:  image (sensor_msgs/Image) or image/compressed (CompressedImage, `input_type: compressed`), camera_info
  out: depth/image (32FC1 m), depth/image_mm (16UC1 mm, optional), depth/relative (32FC1, relative models),
       depth/camera_info, depth/points (PointCloud2), depth/colored (bgr8), /diagnostics
"""
from __future__ import annotations

import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rcl_interfaces.msg import ParameterDescriptor
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from . import conversions as conv
from .conversions import InputError
from .diagnostics import FrameStats, diagnostic_array
from .params import NodeConfig, ParameterError, from_flat, validate
from .pipeline import CameraModel, DepthPipeline
from .qos import qos_profile
from .throttle import ReasonThrottle

NODE_NAME = "depth_anything"
# pipeline output name (FrameOutputs field) -> (message type, topic), in publishing order: the small
# camera_info first (the first publish of a frame costs ~0.2 ms more; measured, benchmarks/bench_node.py),
# then the images, the cloud last
OUTPUT_TOPICS = {
    "camera_info": (CameraInfo, "depth/camera_info"),
    "depth": (Image, "depth/image"),
    "depth_mm": (Image, "depth/image_mm"),
    "relative": (Image, "depth/relative"),
    "colored": (Image, "depth/colored"),
    "points": (PointCloud2, "depth/points"),
}


class DepthNodeCore:
    """Parameters, model, topics and the per-frame callback of one node (plain or lifecycle)."""

    def __init__(self, node: Node):
        self.node = node
        self.log = node.get_logger()
        defaults = NodeConfig().flat_defaults()
        dyn = ParameterDescriptor(dynamic_typing=True)  # YAML `0` for a float is fine; validate() checks types
        for name, value in defaults.items():
            node.declare_parameter(name, value, dyn)
        self.cfg: NodeConfig | None = None
        self.estimator = None
        self.pipeline: DepthPipeline | None = None
        self.stats = FrameStats()
        self.throttle = ReasonThrottle(self.log.warning)
        self.camera: CameraModel | None = None
        self._last_image_size: tuple[int, int] | None = None
        self.pubs: dict = {}
        self.subs: list = []
        self.timer = None
        self.image_group = MutuallyExclusiveCallbackGroup()
        self.aux_group = MutuallyExclusiveCallbackGroup()
        self.static_diag: dict = {}

    # ---------------------------------------------------------------------------------- lifecycle

    def read_config(self) -> NodeConfig:
        values = {}
        for name in NodeConfig().flat_defaults():
            p = self.node.get_parameter(name)
            values[name] = None if p.type_ == Parameter.Type.NOT_SET else p.value
        return validate(from_flat(values))

    def configure(self) -> None:
        """Validate parameters, load the model and create the publishers (ParameterError on bad values)."""
        from ..inference import DepthEstimator
        from ..inference.engines.self_check import SelfCheckError

        cfg = self.read_config()
        self.throttle.period = cfg.log_throttle
        if cfg.num_threads:
            import cv2

            cv2.setNumThreads(cfg.num_threads)  # OpenCV's pool too: waking idle workers per frame costs more than it saves
        options = {}
        if cfg.engine == "onnxruntime":
            options = {"threads": cfg.num_threads or None, "device": cfg.device}
        elif cfg.engine == "torch":
            options = {"device": cfg.device, "precision": cfg.precision}
            if cfg.num_threads:
                import torch

                torch.set_num_threads(cfg.num_threads)
        elif cfg.engine == "tensorrt":
            # the precision is the file's: the parameter is checked against it, never applied
            options = {"device": cfg.device, "input_size": cfg.network_hw, "precision": cfg.precision,
                       "cache_dir": cfg.trt_cache_dir or None}
        fallback = None
        try:
            est = DepthEstimator.create(cfg.engine, cfg.model_path, cfg.network_hw, **options)
        except SelfCheckError as exc:
            if cfg.trt_strict:
                raise ParameterError(f"engine: {exc} (trt_strict: no fallback)") from None
            fallback = str(exc).splitlines()[0]
            self.log.error(f"{fallback}; falling back to onnxruntime")
            est = DepthEstimator.create("onnxruntime", cfg.model_path, cfg.network_hw,
                                        threads=cfg.num_threads or None, device=None)
        except (ValueError, OSError, RuntimeError, ImportError) as exc:
            raise ParameterError(f"model_path: cannot load {cfg.model_path} on {cfg.engine}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        if cfg.network_hw is None and est.engine.input_size is None and est.meta.input_size:
            # a model trained for a fixed size (ModelMeta.input_size) runs at that size unless told otherwise
            est = DepthEstimator(est.engine, tuple(est.meta.input_size))
        self.pipeline = DepthPipeline(est, cfg)  # may raise ParameterError (depth range vs model)
        self.cfg, self.estimator = cfg, est
        size = est.preprocessor.network_size
        if size is not None:  # warm-up: first real frame is not slowed by lazy initialisation
            import numpy as np

            est.engine.infer(np.zeros((1, 3, *size), np.float32))
        describe = est.engine.describe()
        self.static_diag = {
            "engine": describe.get("engine", cfg.engine),
            "engine_details": ", ".join(f"{k}={v}" for k, v in describe.items() if k != "engine"),
            "model": f"{est.meta.encoder} {est.meta.version} {est.meta.kind}"
                     + (f" max_depth={est.max_depth:g}" if est.max_depth else ""),
            "network_input_size": "x".join(map(str, size)) if size else "official rule (shorter side 518)",
            "output": "depth/image (m)" if self.pipeline.metric else "depth/relative (inverse depth)",
        }
        if fallback is not None:
            self.static_diag["engine_fallback"] = f"tensorrt refused: {fallback}"
        oq = qos_profile(cfg.output_qos)
        n = self.node
        for name in sorted(self.pipeline.outputs):
            msg_type, topic = OUTPUT_TOPICS[name]
            self.pubs[name] = n.create_publisher(msg_type, topic, oq)
        from diagnostic_msgs.msg import DiagnosticArray

        self.pubs["diagnostics"] = n.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.log.info(f"model {self.static_diag['model']} on {self.static_diag['engine']}, network input "
                      f"{self.static_diag['network_input_size']}; publishing {self.static_diag['output']}")

    def activate(self) -> None:
        """Create the subscriptions and the diagnostics timer."""
        cfg, n = self.cfg, self.node
        iq = qos_profile(cfg.input_qos)
        if cfg.input_type == "compressed":
            self.subs.append(n.create_subscription(CompressedImage, "image/compressed", self.on_image, iq,
                                                   callback_group=self.image_group))
        else:
            self.subs.append(n.create_subscription(Image, "image", self.on_image, iq,
                                                   callback_group=self.image_group))
        self.subs.append(n.create_subscription(CameraInfo, "camera_info", self.on_camera_info, iq,
                                               callback_group=self.aux_group))
        self.timer = n.create_timer(cfg.diagnostics_period, self.publish_diagnostics, callback_group=self.aux_group)
        topic = n.resolve_topic_name("image/compressed" if cfg.input_type == "compressed" else "image")
        self.log.info(f"listening on {topic} ({cfg.input_qos.reliability}, depth {cfg.input_qos.depth})")

    def deactivate(self) -> None:
        for s in self.subs:
            self.node.destroy_subscription(s)
        self.subs = []
        if self.timer is not None:
            self.node.destroy_timer(self.timer)
            self.timer = None

    def cleanup(self) -> None:
        self.deactivate()
        for p in self.pubs.values():
            self.node.destroy_publisher(p)
        self.pubs = {}
        if self.estimator is not None:
            self.estimator.engine.close()
        self.estimator = self.pipeline = None
        self.camera = None

    # ---------------------------------------------------------------------------------- callbacks

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Cache the latest usable CameraInfo; reject (logged, previous kept) unusable ones."""
        try:
            cam = CameraModel.from_msg(msg)
            last = self._last_image_size
            if last is not None and cam.size != last:
                raise InputError("camera_info_size", f"CameraInfo is for {msg.width}x{msg.height} but images are "
                                                     f"{last[1]}x{last[0]}; keeping the previous one")
        except InputError as exc:
            with self.stats._lock:
                self.stats.camera_info_rejected += 1
            self.throttle.log(exc.kind, f"camera_info rejected: {exc}")
            return
        self.camera = cam

    def on_image(self, msg) -> None:
        """One frame: decode, infer, publish every output with the input header; never raises."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        t0 = time.perf_counter()
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        self.stats.on_received(stamp)
        wanted = None
        if self.cfg.lazy_outputs:
            wanted = [k for k in pipeline.outputs if self.pubs[k].get_subscription_count()]
            if not wanted:
                self.stats.on_without_subscribers()
                return
        try:
            out = pipeline.process(msg, self.camera, wanted)
        except InputError as exc:
            self.stats.on_skipped(str(exc))
            self.throttle.log(exc.kind, f"frame skipped: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - the node must stay up; reported in diagnostics
            self.stats.on_failed(f"{type(exc).__name__}: {exc}")
            self.throttle.log("error", f"frame failed: {type(exc).__name__}: {exc}")
            return
        if isinstance(msg, Image):
            self._last_image_size = (int(msg.height), int(msg.width))
        if out.missing_camera_info:
            with self.stats._lock:
                self.stats.waiting_for_camera_info += 1
            if "points" in self.pubs or "camera_info" in self.pubs:
                self.throttle.log("waiting_camera_info", f"depth/camera_info and depth/points wait: "
                                                         f"{out.missing_camera_info}")
        published = []
        for key, (_, topic) in OUTPUT_TOPICS.items():
            m = getattr(out, key)
            if m is not None and key in self.pubs:
                self.pubs[key].publish(m)
                published.append(topic)
        now = self.node.get_clock().now().nanoseconds * 1e-9
        self.stats.on_processed((now - stamp) * 1e3, (time.perf_counter() - t0) * 1e3, published)

    def publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        msg = diagnostic_array(self.node.get_clock().now().to_msg(),
                               f"{self.node.get_name()}: depth", self.node.get_fully_qualified_name(),
                               snap, self.static_diag)
        if "engine_fallback" in self.static_diag:  # running, but not on the engine asked for
            from diagnostic_msgs.msg import DiagnosticStatus

            status = msg.status[0]
            status.level = max(status.level, DiagnosticStatus.WARN)
            status.message = f"on onnxruntime (TensorRT self-check failed); {status.message}"
        self.pubs["diagnostics"].publish(msg)


class DepthAnythingNode(Node):
    """The plain node: configured and active from construction (ParameterError on bad parameters)."""

    def __init__(self, name: str = NODE_NAME, **kwargs):
        super().__init__(name, **kwargs)
        self.core = DepthNodeCore(self)
        self.core.configure()
        self.core.activate()


def make_lifecycle_node(name: str = NODE_NAME, **kwargs):
    """A lifecycle node (starts unconfigured; configure loads the model, activate subscribes)."""
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

    class DepthAnythingLifecycleNode(LifecycleNode):
        def __init__(self):
            super().__init__(name, **kwargs)
            self.core = DepthNodeCore(self)

        def on_configure(self, state):
            try:
                self.core.configure()
            except ParameterError as exc:
                self.get_logger().error(f"configure failed: {exc}")
                self.core.cleanup()
                return TransitionCallbackReturn.FAILURE
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state):
            self.core.activate()
            return super().on_activate(state)

        def on_deactivate(self, state):
            self.core.deactivate()
            return super().on_deactivate(state)

        def on_cleanup(self, state):
            self.core.cleanup()
            return TransitionCallbackReturn.SUCCESS

        def on_shutdown(self, state):
            self.core.cleanup()
            return TransitionCallbackReturn.SUCCESS

    return DepthAnythingLifecycleNode()
