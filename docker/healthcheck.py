"""Container HEALTHCHECK: exit 0 when the service in this container answers GET /health/ready with 200, else 1.

Standard library only (the image has no curl). The port is SERVER_PORT (the Azure name the service reads), default
5001; the probe always targets the loopback address because the server binds 0.0.0.0 inside the container.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Probe ``/health/ready`` once; print the reason and return 1 unless it answers 200 within 3 seconds."""
    port = os.environ.get("SERVER_PORT", "5001")
    url = f"http://127.0.0.1:{port}/health/ready"
    # An HTTP(S)_PROXY set in the container must not capture a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"unhealthy: GET {url} failed: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: GET {url} returned {status}, expected 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
