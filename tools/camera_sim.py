"""Camera simulator: serves photos from folders as snapshot URLs, and can be told to misbehave.

    python tools/camera_sim.py --photos data/sample --port 8009 \\
        --cameras kennel-1=cat,kennel-2=dog,room-1=none

Endpoints (stdlib http.server, no dependencies):
    GET  /cameras                      JSON list: name, folder, mode, snapshot_url
    GET  /cameras/{name}/snapshot.jpg  the next photo of the camera's folder (cycles)
    PUT  /cameras/{name}/mode          body {"mode": "normal|fail|hang|garbage"}
                                       fail: HTTP 500; hang: sleep --hang-s before answering;
                                       garbage: 200 with bytes that are not an image
    GET  /healthz
With --sensor-noise, every JPEG served carries a comment segment with a capture counter: new bytes,
same pixels, as a real sensor never sends the same bytes twice (without it, ingest's duplicate
detection rightly folds a cycle's repeated photos into their first frame).
Settings may also come from the environment: SIM_PHOTOS, SIM_PORT, SIM_HOST, SIM_CAMERAS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODES = ("normal", "fail", "hang", "garbage")
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
log = logging.getLogger("camera_sim")


def stamp_jpeg(data: bytes, text: str) -> bytes:
    """The JPEG with a comment (COM) segment after its start marker: new bytes, same pixels."""
    if not data.startswith(b"\xff\xd8"):
        return data
    payload = text.encode()[:65000]
    return data[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


class SimCamera:
    def __init__(self, name: str, folder: Path) -> None:
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_TYPES)
        if not photos:
            raise ValueError(f"camera {name}: no photos in {folder}")
        self.name, self.folder, self.mode = name, folder, "normal"
        self._cycle = itertools.cycle(photos)
        self._lock = threading.Lock()
        self.served = 0

    def next_photo(self) -> Path:
        with self._lock:
            self.served += 1
            return next(self._cycle)


class Simulator:
    def __init__(
        self,
        photos: Path,
        cameras: dict[str, str],
        base_url: str,
        hang_s: float,
        sensor_noise: bool = False,
    ) -> None:
        self.cameras = {name: SimCamera(name, photos / folder) for name, folder in cameras.items()}
        self.base_url = base_url.rstrip("/")
        self.hang_s = hang_s
        self.sensor_noise = sensor_noise

    def listing(self) -> list[dict[str, Any]]:
        return [
            {
                "name": c.name,
                "folder": c.folder.name,
                "mode": c.mode,
                "snapshot_url": f"{self.base_url}/cameras/{c.name}/snapshot.jpg",
            }
            for c in self.cameras.values()
        ]


def make_handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def _camera(self, pattern: str) -> SimCamera | None:
            match = re.fullmatch(pattern, self.path.split("?")[0])
            camera = sim.cameras.get(match.group(1)) if match else None
            if camera is None:
                self._json(404, {"detail": f"no camera at {self.path}"})
            return camera

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._json(200, {"status": "ok"})
            elif self.path == "/cameras":
                self._json(200, sim.listing())
            elif camera := self._camera(r"/cameras/([^/]+)/snapshot\.jpg"):
                self._snapshot(camera)

        def _snapshot(self, camera: SimCamera) -> None:
            if camera.mode == "fail":
                self._json(500, {"detail": "simulated camera failure"})
                return
            if camera.mode == "hang":
                time.sleep(sim.hang_s)
            if camera.mode == "garbage":
                self._send(200, b"this is not an image " * 20, "image/jpeg")
                return
            photo = camera.next_photo()
            data = photo.read_bytes()
            if sim.sensor_noise:
                data = stamp_jpeg(data, f"{camera.name} capture {camera.served} {time.time():.3f}")
            self._send(200, data, IMAGE_TYPES[photo.suffix.lower()])

        def do_PUT(self) -> None:
            camera = self._camera(r"/cameras/([^/]+)/mode")
            if camera is None:
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                mode = json.loads(self.rfile.read(length) or b"{}").get("mode")
            except (ValueError, AttributeError):
                mode = None
            if mode not in MODES:
                self._json(422, {"detail": f"mode must be one of {', '.join(MODES)}"})
                return
            camera.mode = mode
            log.info("camera %s mode -> %s", camera.name, mode)
            self._json(200, {"name": camera.name, "mode": mode})

    return Handler


def parse_cameras(spec: str) -> dict[str, str]:
    """`kennel-1=cat,kennel-2=dog` -> {"kennel-1": "cat", "kennel-2": "dog"}."""
    pairs = [item.split("=", 1) for item in spec.split(",") if item.strip()]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise argparse.ArgumentTypeError("cameras look like name=folder,name=folder")
    return {name.strip(): folder.strip() for name, folder in pairs}


def serve(sim: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(sim))
    server.daemon_threads = True
    return server


# Every setting from the environment, with its default (tools/env_example.py lists them).
ENV_DEFAULTS = {
    "SIM_PHOTOS": ("data/sample", "folder of cat/ dog/ none/ photos to serve"),
    "SIM_HOST": ("127.0.0.1", "address to listen on"),
    "SIM_PORT": ("8009", "port to listen on"),
    "SIM_CAMERAS": ("kennel-1=cat,kennel-2=dog,room-1=none", "camera=what it sees, comma list"),
    "SIM_PUBLIC_URL": ("", "base of the snapshot URLs (default http://HOST:PORT)"),
    "SIM_HANG_S": ("30", "how long a camera told to hang keeps the request open"),
    "SIM_SENSOR_NOISE": ("", "1: make every JPEG's bytes unique, as a real camera's would be"),
}


def env(name: str) -> str | None:
    return os.environ.get(name, ENV_DEFAULTS[name][0]) or None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=Path(env("SIM_PHOTOS") or "."))
    parser.add_argument("--host", default=env("SIM_HOST"))
    parser.add_argument("--port", type=int, default=int(env("SIM_PORT") or 8009))
    parser.add_argument(
        "--cameras",
        type=parse_cameras,
        default=parse_cameras(env("SIM_CAMERAS") or ""),
    )
    parser.add_argument(
        "--public-url",
        default=env("SIM_PUBLIC_URL"),
        help="base of the snapshot URLs (default http://HOST:PORT)",
    )
    parser.add_argument("--hang-s", type=float, default=float(env("SIM_HANG_S") or 30))
    parser.add_argument(
        "--sensor-noise",
        action="store_true",
        default=env("SIM_SENSOR_NOISE") == "1",
        help="make every JPEG's bytes unique (a comment segment), as a real camera's would be",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base_url = args.public_url or f"http://{args.host}:{args.port}"
    sim = Simulator(args.photos, args.cameras, base_url, args.hang_s, args.sensor_noise)
    server = serve(sim, args.host, args.port)
    log.info(json.dumps({"msg": "camera simulator listening", "cameras": sim.listing()}))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
