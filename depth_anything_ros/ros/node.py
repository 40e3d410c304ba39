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

import dataclasses
import threading
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from . import conversions as conv
from .conversions import InputError
from .diagnostics import FrameStats, diagnostic_array, scale_diagnostics
from .params import NodeConfig, ParameterError, flatten, from_flat, restart_only_parameters, validate
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
        # one frame at a time against everything that swaps what a frame uses (live parameters, deactivate,
        # cleanup): those wait for the frame in flight instead of pulling the pipeline from under it
        self._frame_lock = threading.Lock()
        # diagnostics run on the steady clock: with use_sim_time and no /clock, ROS time stands still
        self._steady_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self._active = False  # between activate and deactivate: a frame taken just before deactivate is dropped
        self._param_names = frozenset(defaults)
        node.add_on_set_parameters_callback(self.on_set_parameters)
        self.scale_inputs = None  # ScaleInputs when scale_source is not none

    # ---------------------------------------------------------------------------------- lifecycle

    def read_config(self) -> NodeConfig:
        values = {}
        for name in NodeConfig().flat_defaults():
            p = self.node.get_parameter(name)
            values[name] = None if p.type_ == Parameter.Type.NOT_SET else p.value
        return validate(from_flat(values))

    def configure(self) -> None:
        """Validate parameters, load the model and create the publishers (ParameterError on bad values)."""
        from ..inference import engine_for_path, open_model
        from ..inference.engines.self_check import SelfCheckError

        cfg = self.read_config()
        self.throttle.period = cfg.log_throttle
        if cfg.num_threads:
            import cv2

            cv2.setNumThreads(cfg.num_threads)  # OpenCV's pool too: waking idle workers per frame costs more than it saves
        engine = engine_for_path(cfg.model_path) if cfg.engine == "auto" else cfg.engine
        options = {}
        if engine == "onnxruntime":
            options = {"threads": cfg.num_threads or None, "device": cfg.device}
        elif engine == "torch":
            options = {"device": cfg.device, "precision": cfg.precision}
            if cfg.num_threads:
                import torch

                torch.set_num_threads(cfg.num_threads)
        elif engine == "tensorrt":
            # the precision is the file's: the parameter is checked against it, never applied
            options = {"device": cfg.device, "precision": cfg.precision, "cache_dir": cfg.trt_cache_dir or None}
        fallback = None
        try:
            est = open_model(cfg.model_path, engine, cfg.network_hw, **options)
        except SelfCheckError as exc:
            if cfg.trt_strict:
                raise ParameterError(f"engine: {exc} (trt_strict: no fallback)") from None
            fallback = str(exc).splitlines()[0]
            self.log.error(f"{fallback}; falling back to onnxruntime")
            est = open_model(cfg.model_path, "onnxruntime", cfg.network_hw, threads=cfg.num_threads or None)
        except (ValueError, OSError, RuntimeError, ImportError) as exc:
            raise ParameterError(f"model_path: cannot load {cfg.model_path} on {engine}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self.pipeline = DepthPipeline(est, cfg)  # may raise ParameterError (depth range vs model)
        self.cfg, self.estimator = cfg, est
        size = est.network_size
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
            "network_size_from": est.size_source,
            "output": "depth/image (m)" if self.pipeline.metric else "depth/relative (inverse depth)",
        }
        if fallback is not None:
            self.static_diag["engine_fallback"] = f"tensorrt refused: {fallback}"
        self._sync_publishers(self.pipeline.outputs)
        from diagnostic_msgs.msg import DiagnosticArray

        self.pubs["diagnostics"] = self.node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # metric anchors (ros/scale_inputs.py)
        if cfg.scale_source != "none":
            from .scale_inputs import ScaleInputs

            self.scale_inputs = ScaleInputs(cfg, self.throttle.log)
        self.static_diag["scale_source"] = cfg.scale_source
        self.static_diag["training_focal"] = f"{est.meta.training_focal:g} px" if est.meta.training_focal else "unknown"
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
        # camera_info: a deeper queue, so that this cheap callback sees every one (frame drop counting)
        info_q = qos_profile(dataclasses.replace(cfg.input_qos, depth=max(10, cfg.input_qos.depth)))
        self.subs.append(n.create_subscription(CameraInfo, "camera_info", self.on_camera_info, info_q,
                                               callback_group=self.aux_group))
        if self.scale_inputs is not None:
            sub = self.scale_inputs.subscribe(n, qos_profile(cfg.input_qos), self.aux_group)
            if sub is not None:
                self.subs.append(sub)
        self._start_diagnostics_timer()
        self._active = True
        topic = n.resolve_topic_name("image/compressed" if cfg.input_type == "compressed" else "image")
        self.log.info(f"listening on {topic} ({cfg.input_qos.reliability}, depth {cfg.input_qos.depth})")

    def _start_diagnostics_timer(self) -> None:
        if self.timer is not None:
            self.node.destroy_timer(self.timer)
        self.timer = self.node.create_timer(self.cfg.diagnostics_period, self.publish_diagnostics,
                                            callback_group=self.aux_group, clock=self._steady_clock)

    def _sync_publishers(self, outputs) -> None:
        """One publisher per output in `outputs` (created with the output QoS); others destroyed."""
        for name in [k for k in self.pubs if k in OUTPUT_TOPICS and k not in outputs]:
            self.node.destroy_publisher(self.pubs.pop(name))
        oq = qos_profile(self.cfg.output_qos)
        for name in sorted(set(outputs) - set(self.pubs)):
            msg_type, topic = OUTPUT_TOPICS[name]
            self.pubs[name] = self.node.create_publisher(msg_type, topic, oq)

    def deactivate(self) -> None:
        """Stop subscribing (after the frame in flight)."""
        with self._frame_lock:
            self._active = False
            for s in self.subs:
                self.node.destroy_subscription(s)
            self.subs = []
            if self.timer is not None:
                self.node.destroy_timer(self.timer)
                self.timer = None

    def cleanup(self) -> None:
        """Deactivate, destroy the publishers and close the model (after the frame in flight)."""
        self.deactivate()
        with self._frame_lock:
            for p in self.pubs.values():
                self.node.destroy_publisher(p)
            self.pubs = {}
            if self.estimator is not None:
                self.estimator.engine.close()
            self.estimator = self.pipeline = None
            self.camera = None
            self.cfg = None
            self.scale_inputs = None

    # ---------------------------------------------------------------------------------- parameters

    def on_set_parameters(self, params) -> SetParametersResult:
        """Validate a set-parameters request with the start-up rules; apply what can change while running
        (params.LIVE_PARAMETERS), refuse the rest with the way to apply it. Unconfigured (lifecycle), every
        valid value is accepted: configure reads them."""
        ours = {p.name: p.value for p in params if p.name in self._param_names}
        if not ours:
            return SetParametersResult(successful=True)
        cfg = self.cfg
        try:
            if cfg is None:
                validate(from_flat({**self._declared_values(), **ours}), check_files=False)
                return SetParametersResult(successful=True)
            current = flatten(cfg)
            refused = sorted(k for k in set(ours) & restart_only_parameters() if ours[k] != current[k])
            if refused:
                return SetParametersResult(successful=False, reason=(
                    f"{', '.join(refused)} cannot change while the node runs: set it and reconfigure (lifecycle "
                    "node: deactivate, cleanup, configure, activate; plain node: restart it)"))
            self.apply_live(validate(from_flat({**current, **ours}), check_files=False))
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _declared_values(self) -> dict:
        values = {}
        for name in self._param_names:
            p = self.node.get_parameter(name)
            if p.type_ != Parameter.Type.NOT_SET:
                values[name] = p.value
        return values

    def apply_live(self, cfg: NodeConfig) -> None:
        """Switch the running node to `cfg` (live parameters only) between two frames (ParameterError if the
        model cannot do it, e.g. a depth range outside a metric model's)."""
        with self._frame_lock:
            if self.estimator is None:
                return
            pipeline = DepthPipeline(self.estimator, cfg)
            old, self.cfg = self.cfg, cfg
            self._sync_publishers(pipeline.outputs)
            self.pipeline = pipeline
            self.throttle.period = cfg.log_throttle
            self.static_diag["output"] = "depth/image (m)" if pipeline.metric else "depth/relative (inverse depth)"
            if self.timer is not None and cfg.diagnostics_period != old.diagnostics_period:
                self._start_diagnostics_timer()

    # ---------------------------------------------------------------------------------- callbacks

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Cache the latest usable CameraInfo; reject (logged, previous kept) unusable ones."""
        self.stats.on_camera_info(conv.stamp_to_seconds(msg.header.stamp))
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
        with self._frame_lock:
            self._frame(msg)

    def _frame(self, msg) -> None:
        pipeline = self.pipeline
        if pipeline is None or not self._active:
            return
        t0 = time.perf_counter()
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        stamp_ok = self.stats.on_received(stamp)
        wanted = None
        if self.cfg.lazy_outputs:
            wanted = [k for k in pipeline.outputs if self.pubs[k].get_subscription_count()]
            if not wanted:
                self.stats.on_without_subscribers()
                return
        anchors = None
        if self.scale_inputs is not None:  # the anchor message matched to this image
            anchors = self.scale_inputs.match(stamp, msg.header.frame_id)
        try:
            out = pipeline.process(msg, self.camera, wanted, anchors)
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
        st = pipeline.scale.status  # refused anchors / fits, throttled per reason
        if st.reason:
            self.throttle.log(f"scale_{st.reason_kind}", f"scale: {st.reason}")
        published = []
        try:
            for key, (_, topic) in OUTPUT_TOPICS.items():
                m = getattr(out, key)
                if m is not None and key in self.pubs:
                    self.pubs[key].publish(m)
                    published.append(topic)
        except Exception as exc:  # noqa: BLE001 - e.g. the context shut down (SIGINT) mid-frame
            if self.node.context.ok():
                self.stats.on_failed(f"publishing: {type(exc).__name__}: {exc}")
                self.throttle.log("publish", f"frame failed while publishing: {type(exc).__name__}: {exc}")
            return
        latency = (self.node.get_clock().now().nanoseconds * 1e-9 - stamp) * 1e3 if stamp_ok else None
        self.stats.on_processed(latency, (time.perf_counter() - t0) * 1e3, published)

    def publish_diagnostics(self) -> None:
        """One /diagnostics message (stamped with the node's clock: ROS time, or /clock with use_sim_time)."""
        pub = self.pubs.get("diagnostics")
        if pub is None:
            return
        snap = self.stats.snapshot()
        if self.pipeline is not None:
            snap.update(scale_diagnostics(self.pipeline.scale, self.scale_inputs))
        msg = diagnostic_array(self.node.get_clock().now().to_msg(),
                               f"{self.node.get_name()}: depth", self.node.get_fully_qualified_name(),
                               snap, self.static_diag)
        if "engine_fallback" in self.static_diag:  # running, but not on the engine asked for
            from diagnostic_msgs.msg import DiagnosticStatus

            status = msg.status[0]
            status.level = max(status.level, DiagnosticStatus.WARN)
            status.message = f"on onnxruntime (TensorRT self-check failed); {status.message}"
        try:
            pub.publish(msg)
        except Exception:  # noqa: BLE001 - only when the context shuts down (SIGINT) between two checks
            if self.node.context.ok():
                raise


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
