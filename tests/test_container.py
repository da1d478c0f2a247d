"""The container files: a static lint that always runs, and a real build and run where a
container engine is available (docker or podman with a reachable daemon)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from rls.config import SETTINGS
from tests.test_serve import free_port, start_server, wait_for

ROOT = Path(__file__).resolve().parent.parent
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    )
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text())


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def healthcheck_code(steps: list[tuple[str, str]]) -> str:
    (args,) = [args for op, args in steps if op == "HEALTHCHECK"]
    command = json.loads(args[args.index("CMD") + 3 :])
    assert command[:2] == ["python", "-c"]  # slim images have no curl
    return str(command[2])


# -- static lint (always runs) ----------------------------------------------------------------


def test_dockerfile_uses_python_311_slim_in_every_stage(dockerfile):
    bases = [args.split()[0] for op, args in dockerfile if op == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases)


def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    users = [args.strip() for op, args in final_stage(dockerfile) if op == "USER"]
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"


def test_dockerfile_exposes_3000_and_serves(dockerfile):
    ops = dict(final_stage(dockerfile))
    assert ops["EXPOSE"].split() == ["3000"]
    assert json.loads(ops["ENTRYPOINT"]) == ["rest", "serve"]


def test_dockerfile_installs_without_a_pip_cache(dockerfile):
    installs = [args for op, args in dockerfile if op == "RUN" and "pip install" in args]
    assert installs and all("--no-cache-dir" in args for args in installs)
    assert not any(op == "RUN" and "pip install" in args for op, args in final_stage(dockerfile))  # multi-stage


def test_dockerfile_has_no_secrets_in_env_or_args(dockerfile):
    for op, args in dockerfile:
        if op in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_WORDS.search(n)], (op, args)
            assert "://" not in args  # no database URL (with its password) in the image


def test_dockerfile_healthcheck_hits_health_with_python(dockerfile):
    code = healthcheck_code(dockerfile)
    compile(code, "HEALTHCHECK", "exec")
    assert "/_rls/health" in code


def test_dockerfile_healthcheck_command_passes_against_a_live_server_and_fails_without(dockerfile, tmp_path):
    code = healthcheck_code(dockerfile)
    proc, base = start_server("-db.url", f"sqlite:///{tmp_path}/h.db")
    try:
        wait_for(f"{base}/", proc)
        env = {**os.environ, "REST_ADDR": ":" + base.rpartition(":")[2]}
        assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=10).returncode == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    env = {**os.environ, "REST_ADDR": f":{free_port()}"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=10).returncode != 0


def test_dockerignore_keeps_secrets_and_databases_out_of_the_build_context():
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("**")] == "**"  # everything excluded, then only the sources re-included
    assert {line for line in lines if line.startswith("!")} <= {
        "!pyproject.toml", "!README.md", "!rls", "!rls/**", "!dialects", "!dialects/**",
    }  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_postgres_15_and_rls_after_the_database_is_healthy(compose):
    db, rls = compose["services"]["db"], compose["services"]["rls"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert rls["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "/_rls/ready" in " ".join(rls["healthcheck"]["test"])
    assert rls["build"] == "."


def test_compose_passes_secrets_as_files_never_in_the_environment(compose):
    defined = compose["secrets"]
    assert all(set(spec) == {"file"} for spec in defined.values())
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if SECRET_WORDS.search(key) or key in ("REST_DB_URL",):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (name, key)
            assert "://" not in str(value), (name, key)  # no URL with a password
        assert set(service.get("secrets", [])) <= set(defined)
    rls_env = compose["services"]["rls"]["environment"]
    files = {rls_env["REST_DB_URL_FILE"], rls_env["REST_AUTH_SECRET_FILE"]}
    assert files == {f"/run/secrets/{s}" for s in compose["services"]["rls"]["secrets"]}


def test_compose_names_only_real_settings(compose):
    known = {s.env for s in SETTINGS if s.env} | {f"{s.env}_FILE" for s in SETTINGS if s.env}
    names = set(compose["services"]["rls"]["environment"])
    assert names and names <= known, names - known


def test_config_reads_a_secret_from_a_file(tmp_path):
    from rls.config import ConfigError, load_config

    secret = tmp_path / "secret"
    secret.write_text("s" * 40 + "\n")
    config = load_config(environ={"REST_AUTH_SECRET_FILE": str(secret), "REST_AUTH_ENABLED": "true"})
    assert config.auth_secret == "s" * 40
    # REST_AUTH_SECRET_FILE is auth.secret_file: a different secret given as well is refused.
    with pytest.raises(ConfigError, match="differ"):
        load_config(environ={"REST_AUTH_SECRET_FILE": str(secret), "REST_AUTH_SECRET": "e" * 40})
    with pytest.raises(ConfigError, match="secret_file"):
        load_config(environ={"REST_AUTH_SECRET_FILE": str(tmp_path / "missing")})


# -- a real build and run (needs an engine) ---------------------------------------------------


def container_engine() -> str | None:
    """docker or podman when on PATH and able to reach its daemon, else None."""
    for name in ("docker", "podman"):
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True, timeout=30).returncode == 0:
            return path
    return None


def test_container_builds_and_answers_health(tmp_path):
    engine = container_engine()
    if engine is None:
        pytest.skip("no container engine: neither docker nor podman on PATH with a reachable daemon (CI here has none)")
    tag = f"rls-test:{os.getpid()}"
    subprocess.run([engine, "build", "-t", tag, str(ROOT)], check=True, timeout=1200)
    port = free_port()
    name = f"rls-test-{os.getpid()}"
    subprocess.run(
        [engine, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000",
         "-e", "REST_DB_URL=sqlite:////home/rls/rest.db", "-e", "REST_WORKERS=1", tag],
        check=True, timeout=60,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    assert json.loads(reply.read()) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "the container did not answer /health"
                time.sleep(1)
        user = subprocess.run([engine, "exec", name, "id", "-u"], capture_output=True, text=True, check=True)
        assert user.stdout.strip() == "10001"
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True, timeout=60)
