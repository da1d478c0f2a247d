"""Private database servers for the fault benchmark: PostgreSQL and MariaDB in a temporary
directory on a free port, started, stopped and killed by the benchmark alone.

The shared servers (5432, 3306) are never touched. Both servers refuse to run as root, so
when the benchmark runs as root they run as the ``postgres`` / ``mysql`` system users.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user(user: str, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Instance:
    """A database server of our own. ``stop(mode)``: ``restart`` shuts it down cleanly,
    ``crash`` ends it without a shutdown (recovery from its log on the next start)."""

    name = ""
    user = ""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"rls-faults-{self.name}-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, self.user)
        self.init()
        self.start()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        try:
            self.stop("restart")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def wait_until_up(self, timeout: float = 60.0) -> None:
        """Until a query succeeds (a server recovering from a crash accepts connections
        before it answers them), polling every 20 ms."""
        deadline = time.monotonic() + timeout
        while not (_accepts(self.port) and self.answers()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; see {self.dir}")
            time.sleep(0.02)

    def answers(self) -> bool:
        from rls.database import Database

        db = Database(self.url.rsplit("/", 1)[0] + "/" + self.admin_database, pool_size=1)
        try:
            return db.run(lambda s: s.execute("SELECT 1").rows) == [(1,)]
        except Exception:  # not ready yet, whatever the reason
            return False
        finally:
            db.close()

    admin_database = ""

    def run(self, argv: list[str]) -> None:
        subprocess.run(_as_user(self.user, argv), check=True, capture_output=True, timeout=120)

    # Each server says how.
    @property
    def url(self) -> str:
        raise NotImplementedError

    def init(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, mode: str) -> None:
        raise NotImplementedError


class PrivatePostgres(Instance):
    name, user, admin_database = "postgres", "postgres", "postgres"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self.run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=50"
        # -W: do not wait; wait_until_up polls more often than pg_ctl does.
        self.run(["pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-W", "-o", options, "start"])
        self.wait_until_up()

    def stop(self, mode: str) -> None:
        # immediate: no checkpoint, the next start replays the WAL, as after a crash.
        if (self.data / "postmaster.pid").exists():
            self.run(["pg_ctl", "-D", str(self.data), "-w", "-m", "fast" if mode == "restart" else "immediate", "stop"])


class PrivateMariaDB(Instance):
    name, user, admin_database = "mariadb", "mysql", "mysql"

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/bench"

    def init(self) -> None:
        self.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir / 'data'}", f"--user={self.user}",
                  "--auth-root-authentication-method=normal", "--skip-test-db"])  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["mariadbd", "--no-defaults", f"--datadir={self.dir / 'data'}", f"--user={self.user}",
                f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.dir / 'sock'}",
                f"--pid-file={self.dir / 'pid'}", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=1",
                f"--log-error={self.dir / 'error.log'}"]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_until_up()
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        conn.cursor().execute("CREATE DATABASE IF NOT EXISTS bench CHARACTER SET utf8mb4")
        conn.close()

    def stop(self, mode: str) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM if mode == "restart" else signal.SIGKILL)
        self.proc.wait(60)
