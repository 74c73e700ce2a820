"""A real JupyterLab (and marimo) server and a real headless Chromium, for end-to-end tests."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SPOTLIGHT_CHROMIUM", "/usr/bin/chromium")
# Flags verified on these offline machines: no background networking, no sandbox as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "e2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def start_lab(root: Path) -> tuple[subprocess.Popen, str]:
    """A JupyterLab server on 127.0.0.1 with no token, serving ``root``; returns it and its URL."""
    port = free_port()
    config = root / "jupyter_server_config.py"
    config.write_text(
        "c.ServerApp.token = ''\n"
        "c.ServerApp.password = ''\n"
        "c.ServerApp.disable_check_xsrf = True\n"
        "c.ServerApp.allow_root = True\n"
        "c.ServerApp.open_browser = False\n"
        f"c.ServerApp.root_dir = {str(root)!r}\n"
        "c.LabApp.expose_app_in_browser = True\n"
        "c.JupyterNotebookApp.expose_app_in_browser = True\n"
        "c.LabApp.news_url = None\n"
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
    )
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", f"--config={config}", "--ip=127.0.0.1", f"--port={port}", "--no-browser"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/api/status", proc)
    except Exception:
        stop(proc)
        raise
    return proc, url


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server serving a scratch folder: its URL and the folder."""
    pytest.importorskip("jupyterlab")
    root = tmp_path_factory.mktemp("lab")
    proc, url = start_lab(root)
    try:
        yield url, root
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def marimo_bin():
    pytest.importorskip("marimo")
    exe = shutil.which("marimo", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("marimo is not installed")
    return exe
