"""A real gunicorn serving the app on loopback, for tests that need HTTP and processes."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _flag(name: str, value: int | None) -> list[str]:
    """Return a command-line flag, or none when gunicorn.conf.py should decide."""
    return [] if value is None else [name, str(value)]


class Server:
    """gunicorn in a subprocess, configured only by the settings given (FLASK_* env)."""

    def __init__(self, folder: Path, settings: dict, workers: int | None = 1, threads: int | None = 8,
                 args: tuple = ()):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
        env["VIEWTALLY_INSTANCE_PATH"] = str(folder / "instance")
        env.update({f"FLASK_{key}": str(value) for key, value in settings.items()})
        self.log = open(folder / "gunicorn.log", "w+")
        # Up means every worker serves: one gevent worker accepts every connection it can,
        # so requests sent before the others boot would all reach it.
        self.workers = workers or 1
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "app:create_app()",
                "--bind", f"127.0.0.1:{self.port}", *_flag("--workers", workers), *_flag("--threads", threads),
                "--control-socket", str(folder / "gunicorn.ctl"), "--graceful-timeout", "5", *args,
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}:\n{self.output()}")
            try:
                if (requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
                        and self.output().count("Worker serving") >= self.workers):
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or workers still booting
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not come up:\n{self.output()}")

    def output(self) -> str:
        if self.log.closed:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is not None and self.log.closed:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        # pytest shows what a test printed only when it fails: then the server's log explains.
        print(f"--- gunicorn on port {self.port} ---\n{self.output()}")
        self.log.close()


def worker_pids(server: Server) -> list[int]:
    """Return the pids of the server's worker processes (the master's children)."""
    pid = server.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def serving_pid(server: Server, client: socket.socket) -> int:
    """Return the pid of the worker that holds the server's end of a client's open connection.

    The server's end is found in /proc/net/tcp by the two ports, then among
    the workers' open files by its inode: no request needs to name its worker.
    """
    client_port = client.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), fields[9]
        if (local, remote) == (server.port, client_port) and inode != "0":
            break
    else:
        raise LookupError(f"no accepted connection from port {client_port}")
    for pid in worker_pids(server):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:  # closed while we looked
                continue
    raise LookupError(f"no worker holds the connection from port {client_port}")
