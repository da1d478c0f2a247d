"""`rest serve` really serves: a subprocess under granian, answered over TCP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                return json.loads(reply.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not answer in time")


def start_server(*argv, env=None, output=subprocess.PIPE):
    """``rest <argv> -addr 127.0.0.1:<free port> -workers 1 serve`` in a subprocess."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rls.cli import entry; entry()", *argv,
         "-addr", f"127.0.0.1:{port}", "-workers", "1", "serve"],
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def serve():
    procs = []

    def start(*argv, env=None):
        proc, base = start_server(*argv, env=env)
        procs.append(proc)
        return proc, base

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)
        if proc.stdout and not proc.stdout.closed:
            proc.stdout.close()


def test_serve_answers_on_sqlite(serve, tmp_path):
    proc, base = serve("-db.url", f"sqlite:///{tmp_path}/s.db")
    assert wait_for(f"{base}/", proc) == {"msg": "rest server is up and running"}


def test_serve_reads_the_database_url_from_the_environment(serve, tmp_path):
    proc, base = serve(env={"REST_DB_URL": f"sqlite:///{tmp_path}/env.db"})
    wait_for(f"{base}/", proc)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert f"sqlite:///{tmp_path}/env.db" in out


def test_w13_startup_masks_the_database_password(serve, make_database_url):
    url = make_database_url("postgres").replace("postgres://postgres@", "postgres://postgres:s3cretpw@")
    proc, base = serve("-db.url", url)
    wait_for(f"{base}/", proc)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert "postgres://postgres:***@" in out
    assert "s3cretpw" not in out
