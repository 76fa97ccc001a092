"""The processes a benchmark runs: tools installed on demand, free loopback ports, uvicorn servers, nginx.

Every process is started in its own session (so Ctrl-C reaches only the benchmark, which then stops them
in order) and is stopped by :meth:`Processes.stop_all`, always called from a ``finally``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from arrs_kit import serve

HOST = "127.0.0.1"
RESERVED_PORTS = range(8000, 8004)  # `make run` uses these
STOP_GRACE_S = 10.0
APT_TIMEOUT_S = 600.0


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def ensure_tool(command: str, package: str) -> str:
    """The path of ``command``, installing Debian's ``package`` when it is missing (``apt-get update``
    only when the first install fails)."""
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError(f"{command} is missing and there is no apt-get to install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", package]
    log(f"{command} is missing: apt-get install -y {package}")
    if subprocess.run(install, env=env, timeout=APT_TIMEOUT_S, check=False).returncode != 0:
        log("install failed: apt-get update, then install again")
        subprocess.run([apt, "update"], env=env, timeout=APT_TIMEOUT_S, check=True)
        subprocess.run(install, env=env, timeout=APT_TIMEOUT_S, check=True)
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise RuntimeError(f"{package} was installed but {command} is still not on PATH")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports, none of 8000-8003. The sockets are held until all are
    chosen so the kernel does not hand the same port out twice."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(count * 4):
            if len(ports) == count:
                break
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            held.append(sock)
            port = sock.getsockname()[1]
            if port not in RESERVED_PORTS and port not in ports:
                ports.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(ports) != count:
        raise RuntimeError("could not find free loopback ports")
    return ports


def uvicorn_command(factory: str, port: int) -> list[str]:
    """As ``tools/run.py`` serves a service or the gateway (the public door with its own HTTP protocol
    and no uvicorn proxy-header handling): :func:`arrs_kit.serve.uvicorn_command`."""
    return serve.uvicorn_command(factory, HOST, port, public=factory.startswith("gateway."))


def http_options(factory: str) -> list[str]:
    """The HTTP protocol options ``factory`` is served with (for the report)."""
    command = uvicorn_command(factory, 0)
    return command[command.index("--http") : command.index("--no-access-log")]


def nginx_config(*, prefix: Path, port: int, upstream_port: int) -> str:
    """A reverse proxy to the roles service that touches nothing of the system's nginx."""
    temp = prefix / "temp"
    return f"""\
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {temp / "client_body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    keepalive_requests 1000000;
    upstream roles {{
        server {HOST}:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://roles;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ... utime stime ...": comm may hold spaces, so split after its ")".
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and of its live descendants (nginx's workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    family = {pid}
    for _ in range(8):  # a few generations are plenty; bounded in any case
        grown = family | {child for child, parent in parents.items() if parent in family}
        if grown == family:
            break
        family = grown
    total = 0
    for member in family:
        fields = _stat_fields(member)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every core spent busy since boot (all of /proc/stat's first line but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    # guest time (fields 8, 9) is already counted in user and nice
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


class Processes:
    """The servers a run started, stopped in reverse order by :meth:`stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_file = (self.log_dir / f"{name}.log").open("wb")
        try:
            process = subprocess.Popen(
                command, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        except BaseException:
            log_file.close()
            raise
        self._started.append((name, process, log_file))
        return process

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process, _ in self._started if process.poll() is None}

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_healthy(self, name: str, url: str, timeout_s: float = 60.0) -> None:
        """Poll ``url`` until it answers 200, the process dies, or ``timeout_s`` passes."""
        process = next(p for n, p, _ in self._started if n == name)
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode} before it was healthy:\n{self.log_tail(name)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                    if response.status == 200:
                        return
                    last_error = f"status {response.status}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{name} was not healthy at {url} within {timeout_s:.0f} s ({last_error})")

    def stop(self, name: str) -> None:
        """Stop one server (to start it again with other settings), gracefully, then by force."""
        for entry in [e for e in self._started if e[0] == name]:
            _name, process, log_file = entry
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in {STOP_GRACE_S:.0f} s: killing it")
                process.kill()
                process.wait(timeout=STOP_GRACE_S)
            log_file.close()
            self._started.remove(entry)

    def stop_all(self) -> None:
        for _name, process, _ in reversed(self._started):
            if process.poll() is None:
                # nginx: SIGTERM is its fast shutdown; uvicorn: a graceful stop.
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for name, process, log_file in reversed(self._started):
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in {STOP_GRACE_S:.0f} s: killing it")
                process.kill()
                process.wait(timeout=STOP_GRACE_S)
            log_file.close()
        self._started.clear()
