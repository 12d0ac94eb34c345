"""Fixtures for the page tests: a real ``hybridlens serve`` process (SQLite in a temporary
data directory, analyses in-process), a write token made with the CLI, a film analysed
through the API, and headless Chromium (Debian's ``chromium``) driven by Playwright.

Screenshots of the main pages land in ``SCREENSHOT_DIR`` (git-ignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "test-artifacts" / "screenshots"
HYBRIDLENS = Path(sys.executable).parent / "hybridlens"
CHROMIUM = Path(os.environ.get("HYBRIDLENS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Loading the models into the server on its first job takes most of this on a busy machine.
ANALYSIS_TIMEOUT_S = 150.0
SERVER_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class UiServer:
    url: str
    token: str
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30.0
        )

    def page_url(self, fragment: str = "/") -> str:
        return f"{self.url}/ui/#{fragment}"


@dataclass(frozen=True)
class AnalysedFilm:
    film_id: int
    shot_count: int
    frames: list[dict[str, Any]]


def make_hybrid_film(path: Path, *, seconds: float = 3.0, seed: int = 1) -> Path:
    """A film whose every frame is half grainy, vignetted photo-like texture, half drawn
    fractal, so the analysis finds shots, classes and (with ``segment_all``) masks in a few
    seconds. ``seed`` shifts the texture: another seed, another file."""
    graph = (
        f"color=c=0x7d6a55:s=160x240:r=25:d={seconds},"
        f"geq=lum='lum(X,Y)+40*sin(X/23+{seed})*cos(Y/31)':cb='cb(X,Y)':cr='cr(X,Y)',"
        "noise=alls=18:allf=t+u,gblur=sigma=0.7,vignette[photo];"
        "mandelbrot=s=160x240:r=25[drawn];"
        "[photo][drawn]hstack=inputs=2,format=yuv420p"
    )
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", graph,
        "-t", f"{seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HYBRIDLENS_") or key == "HYBRIDLENS_TEST_CHROMIUM"
    }
    env.update(
        HYBRIDLENS_DATA_DIR=str(data_dir),
        HYBRIDLENS_TASKS__MODE="inline",
        HYBRIDLENS_MODEL__CPU_THREADS="1",
        # Every sampled frame gets a mask, whatever the shipped classifier makes of it.
        HYBRIDLENS_PIPELINE__SEGMENT_ALL="true",
    )
    return env


def wait_for_job(client: httpx.Client, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").raise_for_status().json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {ANALYSIS_TIMEOUT_S:g} s")


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    data_dir = tmp_path_factory.mktemp("ui-server")
    env = _server_env(data_dir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    # The token command creates the schema while the server starts (both mostly import
    # modules); the server is told not to migrate too, so they do not race.
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(HYBRIDLENS), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--no-migrate", "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        created = subprocess.run(
            [str(HYBRIDLENS), "token", "create", "--name", "ui-tests", "--write"],
            env=env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        token = created.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise AssertionError(f"the server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield UiServer(url=url, token=token, data_dir=data_dir)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def analysed_film(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> AnalysedFilm:
    """A generated film uploaded through the API and analysed by the server."""
    path = make_hybrid_film(tmp_path_factory.mktemp("ui-media") / "hybrid.mp4")
    with ui_server.client() as client, path.open("rb") as handle:
        uploaded = client.post(
            "/films",
            files={"file": (path.name, handle, "video/mp4")},
            data={"title": "Hybrid test"},
        ).raise_for_status()
        film = uploaded.json()
        job = wait_for_job(client, film["job_id"])
        assert job["status"] == "done", job
        shots = client.get(f"/films/{film['id']}/shots").raise_for_status().json()
        frames = client.get(f"/films/{film['id']}/frames").raise_for_status().json()["items"]
    return AnalysedFilm(film_id=film["id"], shot_count=len(shots), frames=frames)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright import sync_api as playwright_api

    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, ui_server: UiServer) -> Iterator[Any]:
    """A fresh browser context holding the server's token; fails the test on any uncaught
    script error."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    # Only into an empty store: a test may put another token there and navigate.
    context.add_init_script(
        f"localStorage.getItem('hybridlens.token') || "
        f"localStorage.setItem('hybridlens.token', {ui_server.token!r})"
    )
    context.set_default_timeout(20_000)
    opened = context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda error: script_errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert not script_errors, f"uncaught script errors: {script_errors}"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
