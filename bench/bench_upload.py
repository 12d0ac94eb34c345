"""Memory of the API during a large upload: streams a 2 GB body (raw, then multipart) to a
real ``hybridlens serve`` and samples the server's resident memory (target: under 200 MB;
the upload is written to disk and hashed chunk by chunk, never held whole).

    .venv/bin/python bench/bench_upload.py [--gigabytes 2]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app.core.db import session_scope, upgrade_database  # noqa: E402
from app.tokens import service as tokens_service  # noqa: E402
from app.tokens.schemas import TokenCreate  # noqa: E402
from bench._service_kit import HYBRIDLENS, free_port, process, service_env, wait_http  # noqa: E402

CHUNK = 1 << 20
BOUNDARY = "hybridlens-bench-boundary"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def body(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        digest.update(piece)
        sent += len(piece)
        yield piece


def multipart(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.mkv"\r\n'
        "Content-Type: video/x-matroska\r\n\r\n"
    ).encode()
    yield from body(total, digest)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    total = int(args.gigabytes * 1024**3)
    with tempfile.TemporaryDirectory(prefix="hybridlens-bench-upload-") as tmp:
        data_dir = Path(tmp) / "data"
        url = f"sqlite:///{data_dir / 'hybridlens.sqlite3'}"
        upgrade_database(url)
        with session_scope(url) as session:
            token = tokens_service.create_token(
                session, TokenCreate(name="bench", can_write=True)
            ).token
        env = service_env(url, data_dir)
        env.pop("HYBRIDLENS_REDIS_URL")  # inline mode: no servers at all
        port = free_port()
        command = [str(HYBRIDLENS), "serve", "--port", str(port), "--log-level", "warning"]
        with process(command, env, Path(tmp) / "serve.log") as server:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health")
            print(f"API process RSS at rest: {rss_mb(server.pid):.0f} MB")
            headers = {"Authorization": f"Bearer {token}"}
            for name, make, content_type in (
                ("raw body", body, "application/octet-stream"),
                ("multipart", multipart, f"multipart/form-data; boundary={BOUNDARY}"),
            ):
                digest = hashlib.sha256()
                sampler = Sampler(server.pid)
                sampler.start()
                started = time.perf_counter()
                response = httpx.post(
                    f"{base}/films",
                    params={"analyze": "false", "filename": "big.bin"},
                    content=make(total, digest),
                    headers={**headers, "Content-Type": content_type},
                    timeout=600.0,
                )
                wall = time.perf_counter() - started
                sampler.running = False
                sampler.join()
                response.raise_for_status()
                film = response.json()
                same = film["sha256"] == digest.hexdigest() and film["size_bytes"] == total
                verdict = "ok" if sampler.peak < 200 else "OVER 200 MB"
                print(f"{name:10s}: {total / 1024**3:.1f} GB in {wall:5.1f} s "
                      f"({total / 1024**2 / wall:4.0f} MB/s), peak RSS {sampler.peak:5.0f} MB "
                      f"{verdict}, sha256 {'matches' if same else 'DIFFERS'}")  # fmt: skip
                httpx.delete(f"{base}/films/{film['id']}", headers=headers).raise_for_status()


if __name__ == "__main__":
    main()
