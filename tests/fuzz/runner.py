"""Run generated cases through the four paths and tally the verdicts.

``python -m tests.fuzz.runner --cases 10000 --seed 1 --report fuzz-report.jsonl`` (what
``make fuzz`` runs) creates its own PostgreSQL schemas, MariaDB database and SQLite file,
drops them at the end, and exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import psycopg
import pymysql

from rls.database import Database
from tests.fuzz.backends import Backends, Outcome, bind
from tests.fuzz.generator import DIALECTS, Case
from tests.fuzz.minimise import minimise
from tests.fuzz.oracle import verdict
from tests.fuzz.shapes import Statements
from tests.fuzz.world import USERS

POSTGRES_URL = os.environ.get("RLS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("RLS_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def _reason(detail: str) -> str:
    """A refusal message without its specifics, for counting reasons."""
    detail = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", detail)
    return re.sub(r"\b\d+\b", "N", detail)[:90]


class Tally:
    def __init__(self) -> None:
        self.verdicts: dict[str, collections.Counter[str]] = {d: collections.Counter() for d in DIALECTS}
        self.reasons: dict[str, collections.Counter[str]] = {d: collections.Counter() for d in DIALECTS}
        self.classes: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.cases = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self.mismatches: list[dict[str, Any]] = []
        self.minimise_seconds = 60.0  # a budget: the first few classes get shrunk

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cases": self.cases, "kinds": dict(self.kinds), "per_dialect": {}}
        for d in DIALECTS:
            v = self.verdicts[d]
            compared = sum(n for k, n in v.items() if k not in ("nonportable", "invalid", "skipped"))
            out["per_dialect"][d] = {
                "verdicts": dict(v.most_common()),
                "compared": compared,
                "refusal_rate": round(v["refused"] / compared, 4) if compared else 0.0,
                "top_refusals": self.reasons[d].most_common(8),
            }
        examples: dict[tuple[str, str, str], Any] = {}
        for m in self.mismatches:
            key = (m["dialect"], m["verdict"], m["signature"])
            if key not in examples or ("minimised" in m and "minimised" not in examples[key]):
                examples[key] = m
        out["mismatch_classes"] = [
            {
                "dialect": d,
                "class": c,
                "signature": s,
                "count": n,
                "user": examples[(d, c, s)]["case"]["user"],
                "example": examples[(d, c, s)].get("minimised", {}).get("statement")
                or examples[(d, c, s)]["statement"],
            }
            for (d, c, s), n in self.classes.most_common()
        ]
        return out


def evaluate(backends: Backends, case: Case, tally: Tally, report: TextIO | None) -> None:
    tally.cases += 1
    tally.kinds[case.kind] += 1
    raw_pg = backends.raw("postgres", case)
    native = backends.native(case) if raw_pg.status not in ("error", "timeout") else raw_pg
    if native.status in ("error", "timeout"):  # not valid PostgreSQL, or too slow even natively
        for d in DIALECTS:
            tally.verdicts[d]["invalid"] += 1
        return
    base = Outcome("ok", tables=backends.baseline["native"])
    for d in DIALECTS:
        if case.sql[d] is None:
            tally.verdicts[d]["skipped"] += 1
            continue
        if d != "postgres" and not backends.raw(d, case).same(raw_pg):
            tally.verdicts[d]["nonportable"] += 1
            continue
        guard = backends.guarded(d, case)
        v = verdict(case, native, guard, base)
        tally.verdicts[d][v] += 1
        if v == "refused":
            tally.reasons[d][_reason(guard.detail)] += 1
        if v.startswith("mismatch"):
            # A database error names its own class; otherwise the statement's shape does.
            signature = _reason(guard.detail)[:80] if guard.status == "error" else case.shape
            new = (d, v, signature) not in tally.classes
            tally.classes[(d, v, signature)] += 1
            record = {
                "dialect": d,
                "verdict": v,
                "signature": signature,
                "case": case.to_json(),
                "statement": bind(case, d)[0],
                "guarded": _guarded_text(backends, d, case),
                "guard": guard.to_json(),
                "native": native.to_json(),
            }
            if new and tally.minimise_seconds > 0:
                started = time.monotonic()
                small = minimise(backends, case, d, v)
                tally.minimise_seconds -= time.monotonic() - started
                if small is not None:
                    record["minimised"] = {"statement": small.sql[d], "user": small.user}
            tally.mismatches.append(record)
            if report is not None:
                report.write(json.dumps(record, default=str) + "\n")


def _guarded_text(backends: Backends, d: str, case: Case) -> Any:
    """What the guard sends for this case (for the report)."""
    sql, params = bind(case, d)
    try:
        stmt = backends.guards[d].rewrite(sql, USERS[case.user], params)
        return {"sql": stmt.sql, "params": list(stmt.params)}
    except Exception as exc:  # the report shows the refusal instead
        return repr(exc)


def run(
    backends: Backends,
    cases: int,
    seed: int,
    report: TextIO | None = None,
    progress: Callable[[int, Tally], None] | None = None,
    minimise_seconds: float = 60.0,
) -> Tally:
    gen = Statements(seed)
    tally = Tally()
    tally.minimise_seconds = minimise_seconds
    for i in range(cases):
        evaluate(backends, gen.case(i), tally, report)
        if progress is not None and (i + 1) % 500 == 0:
            progress(i + 1, tally)
    return tally


# -- standalone databases -----------------------------------------------------------------


@contextmanager
def databases() -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL schemas (guarded and native), a MariaDB database and a SQLite file."""
    name = f"rls_fuzz_{secrets.token_hex(4)}"
    pg_args = Database(POSTGRES_URL).dialect.connect_args(POSTGRES_URL)
    my_args = Database(MYSQL_URL).dialect.connect_args(MYSQL_URL)
    my_args.pop("database", None)

    def pg(statement: str) -> None:
        with psycopg.connect(**pg_args, autocommit=True) as conn:
            conn.execute(statement)

    def my(statement: str) -> None:
        conn = pymysql.connect(**my_args, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    sep = "&" if "?" in POSTGRES_URL else "?"
    with tempfile.TemporaryDirectory() as tmp:
        pg(f"CREATE SCHEMA {name}_g")
        pg(f"CREATE SCHEMA {name}_n")
        my(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        try:
            yield {
                "postgres": f"{POSTGRES_URL}{sep}search_path={name}_g",
                "native": f"{POSTGRES_URL}{sep}search_path={name}_n",
                "mysql": f"{MYSQL_URL.rpartition('/')[0]}/{name}",
                "sqlite": f"sqlite:///{tmp}/fuzz.db",
            }
        finally:
            pg(f"DROP SCHEMA {name}_g CASCADE")
            pg(f"DROP SCHEMA {name}_n CASCADE")
            my(f"DROP DATABASE {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", default="fuzz-report.jsonl", help="mismatches, one JSON object a line")
    parser.add_argument("--summary", default="fuzz-summary.json")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def progress(done: int, tally: Tally) -> None:
        bad = sum(tally.classes.values())
        print(f"{done} cases, {bad} mismatches, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with databases() as urls, open(args.report, "w") as report:
        backends = Backends(urls)
        try:
            tally = run(backends, args.cases, args.seed, report, progress)
        finally:
            backends.close()
    summary = tally.summary() | {"seed": args.seed, "seconds": round(time.monotonic() - started, 1)}
    with open(args.summary, "w") as out:
        json.dump(summary, out, indent=2)
    print(json.dumps(summary, indent=2))
    return 1 if tally.classes else 0


if __name__ == "__main__":
    sys.exit(main())
