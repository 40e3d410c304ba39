"""`python -m depth_anything_ros.cli` == `depth-anything-ros`."""
import sys

from . import main

sys.exit(main())
