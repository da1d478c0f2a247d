"""Load generation in a process of its own: wrk when it is on PATH, else a bounded asyncio client.

Both keep ``connections`` keep-alive connections busy for ``duration`` seconds, cycle
through ``paths``, and report requests/s, p50/p99 latency and errors. Run as a module,
this file is the Python generator: it reads a :class:`LoadSpec` as JSON on stdin and
prints a :class:`LoadResult` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LoadSpec:
    """What to send: ``method`` on each of ``paths`` in turn, from ``connections`` connections,
    for ``duration`` seconds (whole seconds with wrk)."""

    port: int
    paths: list[str]
    connections: int
    duration: float
    method: str = "GET"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    timeout: float = 10.0


@dataclass(frozen=True)
class LoadResult:
    """What came back. ``status_errors`` counts non-2xx answers (wrk: status ≥ 400)."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int
    timeouts: int
    generator: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors + self.timeouts


def run_load(spec: LoadSpec, generator: str = "auto") -> LoadResult:
    """Load the server as ``spec`` says with wrk (``"wrk"``), Python (``"python"``) or the best at hand."""
    if generator == "wrk" or (generator == "auto" and shutil.which("wrk")):
        return _run_wrk(spec)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load.loadgen"], input=json.dumps(asdict(spec)), capture_output=True,
        text=True, check=True, timeout=spec.duration + 2 * spec.timeout + 30,
    )  # fmt: skip
    return LoadResult(**json.loads(done.stdout))


# -- wrk ------------------------------------------------------------------------------

_WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
wrk.method = %(method)s
wrk.body = %(body)s
%(headers)s
request = function()
  i = i + 1
  return wrk.format(nil, paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(text: str | None) -> str:
    """A Lua string literal (ASCII text: JSON's escapes are Lua's), or nil.

    >>> _lua('{"a": 1}'), _lua(None)
    ('"{\\\\"a\\\\": 1}"', 'nil')
    """
    return "nil" if text is None else json.dumps(text, ensure_ascii=True)


def _run_wrk(spec: LoadSpec) -> LoadResult:
    headers = [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in spec.headers.items()]
    if spec.body is not None:
        headers.append('wrk.headers["Content-Type"] = "application/json"')
    script = _WRK_SCRIPT % {
        "paths": ", ".join(_lua(p) for p in spec.paths),
        "method": _lua(spec.method),
        "body": _lua(spec.body),
        "headers": "\n".join(headers),
    }
    with tempfile.TemporaryDirectory(prefix="rls-wrk-") as tmp:
        path = Path(tmp) / "load.lua"
        path.write_text(script)
        argv = ["wrk", "-t1", f"-c{spec.connections}", f"-d{max(1, math.ceil(spec.duration))}s", f"--timeout={spec.timeout:g}s",
                "-s", str(path), f"http://{spec.host}:{spec.port}"]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=spec.duration + 60)
    match = re.search(r"^WRK_RESULT ((?:\d+ ?){9})$", done.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    requests, micros, connect, read, write, status, timeout, p50, p99 = map(int, match.group(1).split())
    return LoadResult(requests, micros / 1e6, p50 / 1e3, p99 / 1e3, status, connect + read + write, timeout, "wrk")


# -- the Python generator -----------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of already sorted values; 0.0 for none.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 99), percentile([], 50)
    (2.0, 4.0, 0.0)
    """
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    status_errors: int = 0
    socket_errors: int = 0
    timeouts: int = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return its status and whether the connection stays open."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        await reader.read()
        return status, False
    return status, fields.get("connection", "").lower() != "close"


def _request_bytes(spec: LoadSpec, path: str) -> bytes:
    lines = [f"{spec.method} {path} HTTP/1.1", f"Host: {spec.host}:{spec.port}"]
    lines += [f"{k}: {v}" for k, v in spec.headers.items()]
    body = (spec.body or "").encode()
    if spec.body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(spec: LoadSpec, offset: int, deadline: float, tally: _Tally) -> None:
    requests = [_request_bytes(spec, p) for p in spec.paths]
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    i = offset
    while time.monotonic() < deadline:
        i += 1
        started = time.perf_counter()
        try:
            if stream is None:
                stream = await asyncio.wait_for(asyncio.open_connection(spec.host, spec.port), spec.timeout)
            reader, writer = stream
            writer.write(requests[i % len(requests)])
            status, keep = await asyncio.wait_for(_read_response(reader), spec.timeout)
        except TimeoutError:
            tally.timeouts += 1
            stream = _close(stream)
            continue
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            tally.socket_errors += 1
            stream = _close(stream)
            await asyncio.sleep(0.01)
            continue
        tally.latencies.append(time.perf_counter() - started)
        if not 200 <= status < 300:
            tally.status_errors += 1
        if not keep:
            stream = _close(stream)
    _close(stream)


def _close(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if stream is not None:
        stream[1].close()
    return None


async def generate(spec: LoadSpec) -> LoadResult:
    """Run the load in this process: ``spec.connections`` coroutines until the deadline."""
    tally = _Tally()
    started = time.monotonic()
    deadline = started + spec.duration
    await asyncio.gather(*(_connection(spec, n * 7, deadline, tally) for n in range(spec.connections)))
    seconds = time.monotonic() - started
    latencies = sorted(tally.latencies)
    return LoadResult(
        len(latencies), seconds, percentile(latencies, 50) * 1e3,
        percentile(latencies, 99) * 1e3, tally.status_errors, tally.socket_errors, tally.timeouts, "python",
    )  # fmt: skip


def main() -> None:
    """Read a :class:`LoadSpec` from stdin, run it, print the :class:`LoadResult`."""
    spec = LoadSpec(**json.load(sys.stdin))
    print(json.dumps(asdict(asyncio.run(generate(spec)))))


if __name__ == "__main__":
    main()
