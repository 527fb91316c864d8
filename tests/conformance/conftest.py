"""Fixtures that run the real `aurra` binary for the REST conformance suite.

The binary comes from the environment variable `AURRA_BIN` (set by the Rust test harness);
without it the suite uses `<repo root>/target/debug/aurra`.

The store comes from `AURRA_CONFORMANCE_BACKEND` (set by the Rust test harness):
- `redb` (the default): every server gets its own data directory;
- `postgres`: every server gets its own schema in the database at
  `AURRA_CONFORMANCE_DATABASE_URL` (schemas named after `AURRA_CONFORMANCE_SCHEMA_PREFIX`);
- `postgres-pair`: the same, and the shared `server` fixture is two server processes on one
  schema; each key is served by one of them (`acme`, `settings_a`, `initech` by the first,
  `acme2`, `settings_b`, `globex` by the second), so a write through one key and a read
  through another of the same account cross from one process to the other.

API keys are created with `aurra keys create` *before* `aurra serve` starts (a running
server locks its data directory). A server is ready when it prints `aurra listening on
http://127.0.0.1:PORT` on stdout; its logs (stderr) go to a file next to its data. On
teardown every server gets SIGTERM and must exit with status 0.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
import requests

import aurra

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^aurra listening on (http://127\.0\.0\.1:\d+)\s*$")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0

BACKEND = os.environ.get("AURRA_CONFORMANCE_BACKEND", "redb")
DATABASE_URL = os.environ.get("AURRA_CONFORMANCE_DATABASE_URL", "")
SCHEMA_PREFIX = os.environ.get("AURRA_CONFORMANCE_SCHEMA_PREFIX", "conformance")
if BACKEND not in ("redb", "postgres", "postgres-pair"):
    raise RuntimeError(f"unknown AURRA_CONFORMANCE_BACKEND {BACKEND!r}")
if BACKEND != "redb" and not DATABASE_URL:
    raise RuntimeError(f"AURRA_CONFORMANCE_BACKEND={BACKEND} needs AURRA_CONFORMANCE_DATABASE_URL")


def store_flags(data_dir: Path) -> List[str]:
    """The flags that point the binary at a server's store: its data directory, or its
    schema (named after the directory) in the test database."""
    if BACKEND == "redb":
        return ["--data-dir", str(data_dir)]
    schema = f"{SCHEMA_PREFIX}_{data_dir.parent.name}".lower().replace("-", "_")
    return ["--database", DATABASE_URL, "--database-schema", schema]


def aurra_bin() -> Path:
    configured = os.environ.get("AURRA_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "aurra"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"aurra binary not found or not executable at {path} "
            "(set AURRA_BIN or build it with `cargo build`)",
            pytrace=False,
        )
    return path


def child_env() -> Dict[str, str]:
    """The environment for the binary, without `AURRA_*` settings (the CLI reads e.g.
    `AURRA_RATE_LIMIT_PER_MINUTE` from the environment; only explicit flags may apply)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("AURRA_") or k == "AURRA_LOG"}


def create_key(binary: Path, data_dir: Path, account: str, label: str) -> str:
    """Runs `aurra keys create` and returns the secret (the first line of stdout)."""
    proc = subprocess.run(
        [str(binary), "keys", "create", *store_flags(data_dir),
         "--account", account, "--label", label],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=child_env(),
    )
    if proc.returncode != 0:
        pytest.fail(
            f"`aurra keys create --account {account} --label {label}` exited with "
            f"{proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    lines = proc.stdout.splitlines()
    assert lines, f"`aurra keys create` printed nothing on stdout; stderr:\n{proc.stderr}"
    secret = lines[0].strip()
    assert secret.startswith("aurra_"), f"first stdout line is not a key: {lines[0]!r}"
    assert secret == lines[0], "the secret must be alone on the first line"
    return secret


def reset_operator(binary: Path, data_dir: Path) -> str:
    """Runs `aurra operator reset` (before the server starts) and returns the credential."""
    proc = subprocess.run([str(binary), "operator", "reset", *store_flags(data_dir)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=child_env())
    if proc.returncode != 0:
        pytest.fail(f"`aurra operator reset` exited with {proc.returncode}\n{proc.stderr}",
                    pytrace=False)
    token = proc.stdout.strip()
    assert token.startswith("aurra_operator_"), f"not an operator credential: {token[:16]!r}"
    return token


@dataclass
class Server:
    """A running `aurra serve` process and the keys created for it."""

    name: str
    base_url: str
    keys: Dict[str, str]
    accounts: Dict[str, str]
    proc: subprocess.Popen
    log_path: Path
    data_dir: Path
    generation: int = 0
    stdout_lines: List[str] = field(default_factory=list)
    _session: requests.Session = field(default_factory=requests.Session)
    # Further processes on the same store (postgres-pair), and which one serves each key.
    peers: List["Server"] = field(default_factory=list)
    routes: Dict[str, str] = field(default_factory=dict)
    # The operator credential, when the launcher was asked for one.
    operator: Optional[str] = None

    @property
    def urls(self) -> List[str]:
        """The base URL of every process serving this store."""
        return [self.base_url, *(p.base_url for p in self.peers)]

    def url_for(self, key: Optional[str]) -> str:
        """The base URL of the process that serves `key`."""
        return self.routes.get(key, self.base_url) if key is not None else self.base_url

    # -- clients -------------------------------------------------------------------------
    def client(self, key: str = "acme") -> aurra.Aurra:
        return aurra.Aurra(api_key=self.keys[key], base_url=self.url_for(key))

    def request(self, method: str, path: str, *, key: Optional[str] = "acme",
                headers: Optional[dict] = None, **kwargs) -> requests.Response:
        """A raw HTTP request; `key=None` sends no Authorization header."""
        hdrs = {}
        if key is not None:
            hdrs["Authorization"] = f"Bearer {self.keys[key]}"
        if headers:
            hdrs.update(headers)
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return self._session.request(method, self.url_for(key) + path, headers=hdrs, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _pump(stream, sink: "queue.Queue[Optional[str]]") -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


class ServerLauncher:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self.tmp_path_factory = tmp_path_factory
        self.binary = aurra_bin()

    def start(self, name: str, keys: Dict[str, Tuple[str, str]],
              flags: Sequence[str] = (), processes: int = 1,
              operator: bool = False) -> Server:
        """Creates `keys` (name -> (account, label)) and, with `operator`, the operator
        credential (`aurra operator reset`), then starts `aurra serve`: `processes` of them on
        one store (more than one needs a database)."""
        base = self.tmp_path_factory.mktemp(name)
        data_dir = base / "data"
        data_dir.mkdir()
        secrets = {k: create_key(self.binary, data_dir, account, label)
                   for k, (account, label) in keys.items()}
        token = reset_operator(self.binary, data_dir) if operator else None
        assert len(set(secrets.values())) == len(secrets), "two keys got the same secret"
        accounts = {k: account for k, (account, _label) in keys.items()}
        srv = self._spawn(name, data_dir, base / "server.log", flags, secrets, accounts)
        srv.operator = token
        assert processes == 1 or BACKEND != "redb", "only a database is shared by processes"
        for n in range(1, processes):
            srv.peers.append(self._spawn(f"{name}-{n}", data_dir, base / f"server-{n}.log",
                                         flags, secrets, accounts))
        servers = [srv, *srv.peers]
        srv.routes = {k: servers[i % len(servers)].base_url for i, k in enumerate(keys)}
        return srv

    def restart(self, server: Server, flags: Sequence[str] = ()) -> Server:
        """Starts a new server on the data directory of a stopped one (same keys)."""
        assert server.proc.poll() is not None, "stop the server before restarting it"
        log_path = server.log_path.with_name(f"server.{server.generation + 1}.log")
        srv = self._spawn(server.name, server.data_dir, log_path, flags, server.keys,
                          server.accounts)
        srv.generation = server.generation + 1
        return srv

    def _spawn(self, name: str, data_dir: Path, log_path: Path, flags: Sequence[str],
               secrets: Dict[str, str], accounts: Dict[str, str]) -> Server:
        log = open(log_path, "wb")
        cmd = [str(self.binary), "serve", *store_flags(data_dir),
               "--bind", "127.0.0.1:0", *flags]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                env=child_env())
        log.close()
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        # Keeps draining stdout after the ready line so the server can never block on it.
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        seen: List[str] = []
        base_url = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while base_url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                pytest.fail(
                    f"{' '.join(cmd)} did not print its listening line within "
                    f"{START_TIMEOUT_S:.0f} s\nstdout so far: {seen!r}\n"
                    f"log:\n{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                rc = proc.wait()
                pytest.fail(
                    f"{' '.join(cmd)} exited with {rc} before it was ready\n"
                    f"stdout: {seen!r}\nlog:\n{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )
            seen.append(line)
            m = READY_RE.match(line.rstrip("\n"))
            if m:
                base_url = m.group(1)
        return Server(name=name, base_url=base_url, keys=dict(secrets), accounts=dict(accounts),
                      proc=proc, log_path=log_path, data_dir=data_dir, stdout_lines=seen)

    @classmethod
    def stop(cls, server: Server) -> None:
        for peer in server.peers:
            cls._stop_one(peer)
        cls._stop_one(server)

    @staticmethod
    def _stop_one(server: Server) -> None:
        server._session.close()
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            try:
                rc = server.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
                pytest.fail(
                    f"server {server.name} did not exit within {STOP_TIMEOUT_S:.0f} s "
                    f"of SIGTERM\nlog tail:\n{server.log_text()[-4000:]}",
                    pytrace=False,
                )
        else:
            rc = server.proc.returncode
            pytest.fail(
                f"server {server.name} had already exited with {rc} before teardown\n"
                f"log tail:\n{server.log_text()[-4000:]}",
                pytrace=False,
            )
        assert rc == 0, (
            f"server {server.name} exited with {rc} after SIGTERM (expected a graceful 0)\n"
            f"log tail:\n{server.log_text()[-4000:]}"
        )


@pytest.fixture(scope="session")
def launcher(tmp_path_factory) -> ServerLauncher:
    return ServerLauncher(tmp_path_factory)


# Keys of the shared server: name -> (account, label).
MAIN_KEYS = {
    "acme": ("acme", "main"),
    "acme2": ("acme", "second"),
    "settings_a": ("acme", "settings-a"),
    "settings_b": ("acme", "settings-b"),
    "globex": ("globex", "main"),
    "initech": ("initech", "main"),
}


@pytest.fixture(scope="session")
def server(launcher) -> Server:
    """The shared server with default flags (no quota enforcement, no rate limit).

    Tests isolate themselves with unique tenant ids; only the `initech` account is ever
    wiped as a whole (test_delete.py), and only test_settings.py changes settings, on the
    `settings_a` key.
    """
    srv = launcher.start("main", MAIN_KEYS, processes=2 if BACKEND == "postgres-pair" else 1)
    yield srv
    launcher.stop(srv)


@pytest.fixture(scope="session")
def acme(server) -> aurra.Aurra:
    return server.client("acme")


@pytest.fixture(scope="session")
def acme2(server) -> aurra.Aurra:
    return server.client("acme2")


@pytest.fixture(scope="session")
def globex(server) -> aurra.Aurra:
    return server.client("globex")
