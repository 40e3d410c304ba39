# depth_anything_ros: `make demo` runs the main job, `make test` the tests, both from a fresh machine.
# Each creates the project virtualenv (.venv) and installs what it needs, system packages included.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.py constraints.txt | cksum | cut -d' ' -f1)
# Debian packages the Python wheels need: EGL/Mesa for the moderngl renderer, libusb/libgomp for open3d.
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libusb-1.0-0 libgomp1
DEMO_MODEL ?= models/demo_vitt_metric.safetensors

# Every process that starts rclpy keeps DDS on loopback, on its own domain, logging to a temp dir.
ROS_ENV = ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=$$(( $$$$ % 100 + 1 )) \
          ROS_LOG_DIR=$$(mktemp -d) FASTDDS_DEFAULT_PROFILES_FILE=$(CURDIR)/config/fastdds_large_data.xml

.PHONY: demo test venv system-deps benchmarks clean trt-bindings

demo: system-deps $(STAMP)
	$(ROS_ENV) $(PY) -m depth_anything_ros.demo --model $(DEMO_MODEL) --output demo_output

test: system-deps $(STAMP) trt-bindings
	$(ROS_ENV) $(PY) -m pytest -q

benchmarks: system-deps $(STAMP)
	$(ROS_ENV) $(PY) benchmarks/bench_engines.py
	$(ROS_ENV) $(PY) benchmarks/bench_node.py

venv: $(STAMP)

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install: $$missing (apt-get, as root)"; exit 1; fi; \
	fi

# torch first and pinned: asked for by another package, pip would pick a multi-GB CUDA build.
$(STAMP): setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[torch,onnx,node,train,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The real TensorRT Python bindings (no native library) of JetPack 6, JetPack 7.0/7.1 and 11.x, for the
# API conformance tests in test/engines (stub libraries are compiled there with gcc; no GPU needed).
TRT_BINDINGS := 10.3.0 10.13.3.9 11.4.0.106
trt-bindings: $(STAMP)
	@command -v gcc >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc; } || \
	  { echo "please install gcc (the TensorRT stub libraries are compiled at test time)"; exit 1; }
	@for v in $(TRT_BINDINGS); do test -f .trt-bindings/$$v/tensorrt_bindings/tensorrt.so || \
	  $(PY) -m pip install -q --no-deps --target .trt-bindings/$$v tensorrt-cu12-bindings==$$v || exit 1; done

clean:
	rm -rf $(VENV) .trt-bindings demo_output build install log *.egg-info
