"""`depth_anything_node`: run the depth node (console script and `ros2 run` executable).

    depth_anything_node [--lifecycle] --ros-args --params-file config/depth_anything.yaml \
        -p model_path:=models/demo_vitt_metric.safetensors -r image:=/camera/image_raw

Sets FASTDDS_DEFAULT_PROFILES_FILE to the shipped large-data profile when unset (before rclpy.init),
validates the parameters (one line and exit code 2 on error) and spins a MultiThreadedExecutor
(`executor.NodeExecutor`: rclpy's, without its re-queuing busy loop).
"""
from __future__ import annotations

import argparse
import sys

from .env import use_large_data_profile
from .params import ParameterError, from_flat, load_yaml

EXIT_BAD_PARAMETERS = 2


def _params_files(ros_args: list[str]) -> list[str]:
    files = []
    for i, a in enumerate(ros_args):
        if a == "--params-file" and i + 1 < len(ros_args):
            files.append(ros_args[i + 1])
    return files


def _check_params_files(files: list[str], node_name: str) -> None:
    """Unknown names (typos) in a parameter file are an error, not silently ignored."""
    import yaml

    for f in files:
        try:
            from_flat(load_yaml(f, node_name))
        except FileNotFoundError:
            raise ParameterError(f"--params-file {f}: no such file") from None
        except yaml.YAMLError as exc:
            raise ParameterError(f"--params-file {f}: not valid YAML ({str(exc).splitlines()[0]})") from None
        except ParameterError as exc:
            raise ParameterError(f"{f}: {exc}") from None


def run(argv: list[str], lifecycle: bool = False, node_name: str = "depth_anything") -> int:
    """Start rclpy with `argv` (may contain --ros-args ...), spin the node until shutdown; exit code."""
    use_large_data_profile()
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from .executor import NodeExecutor

    from .node import DepthAnythingNode, make_lifecycle_node

    prog = "depth_anything_node"
    ros_args = argv[argv.index("--ros-args"):] if "--ros-args" in argv else []
    try:
        _check_params_files(_params_files(ros_args), node_name)
    except ParameterError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    rclpy.init(args=argv)
    node = None
    try:
        try:
            node = make_lifecycle_node(node_name) if lifecycle else DepthAnythingNode(node_name)
        except ParameterError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_PARAMETERS
        except Exception:  # noqa: BLE001 - SIGINT while the model loads shuts the context down under it
            if rclpy.ok():
                raise
            return 0
        executor = NodeExecutor(num_threads=3)
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown(timeout_sec=10.0)  # let an in-flight frame finish before the node is destroyed
        return 0
    finally:
        if node is not None:
            try:
                node.core.cleanup()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
            node.destroy_node()
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        argv = list(sys.argv if argv is None else argv)
        from rclpy.utilities import remove_ros_args

        own = remove_ros_args(args=argv)[1:]
        parser = argparse.ArgumentParser(prog="depth_anything_node", description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--lifecycle", action="store_true",
                            help="run as a lifecycle node (starts unconfigured; configure/activate it)")
        parser.add_argument("--name", default="depth_anything", help="node name (default: depth_anything)")
        args = parser.parse_args(own)
        return run(argv, lifecycle=args.lifecycle, node_name=args.name)
    except KeyboardInterrupt:  # SIGINT during start-up (imports, model loading): a quiet, clean exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
