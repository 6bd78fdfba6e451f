"""The images' HEALTHCHECK: exit 0 if /v2/health/ready answers 200 (standard library only).

The port is the container's ``POSECAST_PORT`` (default 8000); readiness is 503 while the
models load and from the start of a shutdown, so Docker marks the container healthy exactly
when it takes streams.
"""

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('POSECAST_PORT', '8000')}/v2/health/ready"

try:
    with urllib.request.urlopen(URL, timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:  # refused, 503 (HTTPError), timeout
    print(f"not ready: {error}", file=sys.stderr)
    sys.exit(1)
