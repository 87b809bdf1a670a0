"""Probes for the container CI check: the container must score exactly like the service run outside it.

Standard library only. Each command prints one ``PASS ...`` line or raises ProbeError, which ``main`` prints as
``FAIL ...`` with exit status 1 (2 for bad arguments). Used by docker/ci-check.sh.
"""

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProbeError(Exception):
    """A check failed; the message says what was expected and what came."""


def _request(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def iris_rows(model_json: Path, n_random: int = 45) -> tuple[list[list[float]], list]:
    """The sidecar's input_sample plus ``n_random`` seeded rows spread over the iris feature ranges.

    Returns the rows and the sidecar's output_sample (the expected predictions of the first rows).
    """
    sidecar = json.loads(model_json.read_text())
    rng = random.Random(0)
    # Ranges of the four iris features (cm), wide enough that every class is predicted.
    ranges = [(4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5)]
    extra = [[round(rng.uniform(lo, hi), 1) for lo, hi in ranges] for _ in range(n_random)]
    return [list(map(float, row)) for row in sidecar["input_sample"]] + extra, sidecar["output_sample"]


def wait_ready(url: str, attempts: int) -> None:
    """Poll ``url`` + /health/ready once a second, at most ``attempts`` times, until it answers 200.

    Raises
    ------
    ProbeError
        When it never answered 200.
    """
    last = "no answer"
    for _ in range(attempts):
        try:
            status, _body = _request(url + "/health/ready", timeout=2)
            if status == 200:
                print(f"PASS {url} ready")
                return
            last = f"status {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(1)
    raise ProbeError(f"{url}/health/ready never answered 200 in {attempts} attempts (last: {last})")


def compare(container: str, host: str, model_json: Path) -> None:
    """POST the same iris batch to both services: equal 200 answers, and the sample rows give output_sample.

    Raises
    ------
    ProbeError
        On any status other than 200, different predictions, or predictions unlike the sidecar's output_sample.
    """
    rows, expected = iris_rows(model_json)
    body = json.dumps({"data": rows}).encode()
    answers = {}
    for label, url in (("container", container), ("host", host)):
        status, raw = _request(url + "/score", body)
        if status != 200:
            raise ProbeError(f"POST {url}/score ({label}) returned {status}, expected 200: {raw[:200]!r}")
        answers[label] = json.loads(raw)
    if answers["container"] != answers["host"]:
        raise ProbeError(f"container and host predictions differ: {answers['container']} vs {answers['host']}")
    got = answers["container"][: len(expected)]
    if got != expected:
        raise ProbeError(f"predictions for input_sample are {got}, expected output_sample {expected}")
    labels = sorted({json.dumps(label) for label in answers["container"]})
    print(f"PASS POST /score: container == host service on {len(rows)} rows (labels {', '.join(labels)})")


def score_matches(url: str, model_json: Path) -> None:
    """POST the sidecar's input_sample to ``url``/score and expect its output_sample.

    Raises
    ------
    ProbeError
        On a status other than 200 or other predictions.
    """
    sidecar = json.loads(model_json.read_text())
    status, raw = _request(url + "/score", json.dumps({"data": sidecar["input_sample"]}).encode())
    if status != 200 or json.loads(raw) != sidecar["output_sample"]:
        raise ProbeError(f"POST {url}/score returned {status} {raw[:200]!r}, expected 200 {sidecar['output_sample']}")
    print(f"PASS POST {url}/score gives output_sample")


def bad_requests(url: str) -> None:
    """Wrongly shaped rows and a non-JSON body must both get a 400 with a JSON "message".

    Raises
    ------
    ProbeError
        When either answer is not 400 or carries no message.
    """
    for what, body in (("3 columns instead of 4", b'{"data": [[5.1, 3.5, 1.4]]}'), ("invalid JSON", b"{not json")):
        status, raw = _request(url + "/score", body)
        if status != 400:
            raise ProbeError(f"POST /score with {what} returned {status}, expected 400: {raw[:200]!r}")
        try:
            message = json.loads(raw).get("message")
        except (ValueError, AttributeError):
            message = None
        if not message:
            raise ProbeError(f"POST /score with {what}: 400 without a JSON message: {raw[:200]!r}")
        print(f"PASS POST /score with {what} -> 400: {message[:100]}")


def main(argv: list[str] | None = None) -> int:
    """Run one probe command; return 0 on PASS, 1 on FAIL (argparse exits 2 on bad arguments)."""
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wait-ready")
    p.add_argument("url")
    p.add_argument("--attempts", type=int, default=60)
    p = sub.add_parser("compare")
    p.add_argument("container_url")
    p.add_argument("host_url")
    p.add_argument("model_json", type=Path)
    p = sub.add_parser("score")
    p.add_argument("url")
    p.add_argument("model_json", type=Path)
    p = sub.add_parser("bad-requests")
    p.add_argument("url")
    args = parser.parse_args(argv)
    try:
        if args.command == "wait-ready":
            wait_ready(args.url, args.attempts)
        elif args.command == "compare":
            compare(args.container_url, args.host_url, args.model_json)
        elif args.command == "score":
            score_matches(args.url, args.model_json)
        else:
            bad_requests(args.url)
    except (ProbeError, OSError, ValueError) as exc:
        print(f"FAIL {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
