"""Mutation testing of the query guard: remove a security rule, a test must fail.

Two parts (``make mutation`` runs both):

* ``python tests/mutation/run.py rules`` — the named rule removals of
  :mod:`tests.mutation.mutants`: each is one textual patch to the guard's source, applied to a
  temporary copy of the tree (the working tree is never written, so Ctrl-C leaves it as it
  was), then the tests chosen for it run there against the real databases. A rule whose
  removal no test notices is a *survivor*: the run fails.
* ``python tests/mutation/run.py mutmut`` — mutmut's generated mutants of the allow-list, the
  leakproof rules, the policy language and the verifier, with a fast test selection, in a
  temporary copy too. Prints the score and the survivors, one line each with `--show`
  (reviewed in tests/MUTATION.md).

Options: ``--only NAME`` (rules: one mutant, repeatable), ``--jobs N`` (parallel runs),
``--list``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # the working tree stays exactly as it was
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, Mutant  # noqa: E402 - the list lives next to this runner

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("rls", "dialects", "tests", "pyproject.toml")
PYTEST = (
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "--no-header",
    "-o",
    "addopts=-ra --strict-markers --import-mode=importlib",
)


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed, SURVIVED, ERROR
    detail: str
    seconds: float


@contextlib.contextmanager
def tree_copy() -> Iterator[Path]:
    """A private copy of the code and tests, removed afterwards (also on Ctrl-C)."""
    with tempfile.TemporaryDirectory(prefix="rls-mutation-") as tmp:
        target = Path(tmp)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(source, target / name)
        yield target


def _env() -> dict[str, str]:
    # CI=true: a database that is not there fails the run instead of skipping it (a skip
    # would look like a surviving mutant, or worse, like a killed one).
    return {**os.environ, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}


def _pytest(
    where: Path, tests: Sequence[str], timeout: float = 300, stop: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *PYTEST, *(["-x"] if stop else []), *tests],
        cwd=where,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def apply(mutant: Mutant, where: Path) -> None:
    path = where / mutant.path
    source = path.read_text()
    for old, new in mutant.patches():
        count = source.count(old)
        if count != 1:
            raise ValueError(
                f"{mutant.name}: the text to replace occurs {count} times in {mutant.path} (stale mutant?)"
            )
        source = source.replace(old, new)
    path.write_text(source)


def _failures(output: str) -> str:
    failed = [re.sub(r"\[.*", "", f) for f in re.findall(r"^FAILED (\S+)", output, re.MULTILINE)]
    if failed:
        return failed[0] if len(failed) == 1 else f"{failed[0]} (+{len(failed) - 1} more)"
    match = re.search(r"^ERROR (\S+)", output, re.MULTILINE)
    return f"error in {match.group(1)}" if match else "?"


def run_one(mutant: Mutant, stop: bool = True) -> Outcome:
    start = time.monotonic()
    with tree_copy() as where:
        try:
            apply(mutant, where)
        except ValueError as exc:
            return Outcome(mutant, "ERROR", str(exc), 0.0)
        try:
            done = _pytest(where, mutant.tests, stop=stop)
        except subprocess.TimeoutExpired:
            return Outcome(mutant, "killed", "timeout", time.monotonic() - start)
    seconds = time.monotonic() - start
    if done.returncode == 1:
        return Outcome(mutant, "killed", _failures(done.stdout), seconds)
    if done.returncode == 0:
        return Outcome(mutant, "SURVIVED", "every selected test passed", seconds)
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return Outcome(mutant, "ERROR", f"pytest exit {done.returncode}: {' | '.join(tail)}", seconds)


def baseline(mutants: Sequence[Mutant]) -> None:
    """The selected tests pass on the unmutated copy, and that copy is what they import."""
    tests = sorted({t for m in mutants for t in m.tests})
    with tree_copy() as where:
        probe = subprocess.run(
            [sys.executable, "-c", "import rls, dialects; print(rls.__file__); print(dialects.__file__)"],
            cwd=where,
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        for line in probe.stdout.split():
            if not Path(line).resolve().is_relative_to(where.resolve()):
                sys.exit(f"the copy imports {line}, not its own code: mutants would not be seen")
        done = _pytest(where, tests, timeout=900)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
        sys.exit("the selected tests fail without any mutant: fix that first")
    print(f"baseline: {len(tests)} test selections pass on the unmutated tree")


def rules(args: argparse.Namespace) -> int:
    selected = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.only and len(selected) != len(set(args.only)):
        sys.exit(f"unknown mutant in {args.only}")
    baseline(selected)
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for outcome in pool.map(lambda m: run_one(m, stop=not args.all_failures), selected):
            outcomes.append(outcome)
            print(f"{outcome.status:8} {outcome.mutant.name:38} {outcome.seconds:5.1f}s  {outcome.detail}", flush=True)
    killed = sum(o.status == "killed" for o in outcomes)
    print(f"\n{killed} of {len(outcomes)} rule removals killed\n")
    print(markdown(outcomes))
    return 0 if killed == len(outcomes) else 1


def markdown(outcomes: Sequence[Outcome]) -> str:
    lines = ["| rule removed | file | outcome | first failing test |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| `{o.mutant.name}`: {o.mutant.rule} | {o.mutant.path} | {o.status} | `{o.detail}` |")
    return "\n".join(lines)


# -- mutmut --------------------------------------------------------------------------------

_R, _C, _B = "tests/test_guard_rules.py::", "tests/test_guard_classes.py::", "tests/test_guard_bypass.py::"
_READS = _B + "test_reads_see_only_visible_rows"
_ATTACKS = ("tests/test_guard_attacks.py", "tests/test_guard_attacks_round2.py")  # main's adversarial rounds
MUTMUT: dict[str, tuple[str, ...]] = {
    # Each file with the tests that specify it (mutmut runs, per mutant, those that reach it).
    "rls/guard/allow.py": (
        _R + "test_the_allow_list_leaves", _R + "test_a_bare_word_is_refused_wherever_an_expression_goes",
        _R + "test_the_allow_list_leaves_refuse_words_outside_their_sets",
        _R + "test_the_allow_list_accepts_words_in_their_sets", _R + "test_a_nul_in_a_literal_or_a_name_is_refused",
        _R + "test_a_type_with_any_other_argument_is_refused",
        _R + "test_the_reserved_names", _C + "test_text_in_type_unit_or_charset_positions_never_reaches_the_output",
        _C + "test_valid_sql_is_accepted_on_every_database", _C + "test_valid_sql_is_accepted_per_database",
        _B + "test_refused", _B + "test_refused_per_dialect", _READS, *_ATTACKS,
    ),
    "rls/guard/leakproof.py": (
        _R + "test_the_leakproof_rules", _R + "test_the_fence_rule", _R + "test_the_dml_case_guard",
        _R + "test_a_write_fences_the_policy_tables_it_reads", _R + "test_the_select_list_is_not_a_per_row_filter",
        _R + "test_mysql_conversion_warnings_never_quote_a_hidden_row", _C + "test_a_leakproof_statement_has_no_fence",
        _C + "test_a_primary_key_lookup_uses_the_index",
        _C + "test_the_fence_keeps_a_failing_condition_off_hidden_rows",
        _B + "test_failing_condition_is_not_evaluated_on_hidden_rows",
        _B + "test_failing_condition_in_delete_is_not_evaluated_on_hidden_rows", _READS, *_ATTACKS,
    ),
    "rls/policy/expression.py": (
        "tests/test_policy_language.py", _R + "test_the_policy_language_accepts",
        _R + "test_the_policy_language_refuses",
        _R + "test_an_unaliased_sub_query_table_is_itself_not_the_policy_table",
        _C + "test_policies_a_missing_attribute_would_satisfy_are_refused",
        _C + "test_a_stored_negated_policy_grants_the_anonymous_user_nothing",
        _C + "test_claims_compare_exactly_in_either_operand_order",
        _C + "test_a_cte_named_like_a_policy_table_does_not_capture_it",
        _READS, *_ATTACKS,
    ),
    "rls/guard/verify.py": (
        _R + "test_the_verifier_rule", _R + "test_the_verifier_compares_quoting",
        _R + "test_the_verifier_refuses_what_does_not_parse_back_as_one_statement",
        _R + "test_a_parameter_inside_a_function_sqlglot_knows_by_name_only",
        _C + "test_verifier_refuses_output_that_does_not_read_back_as_built",
        _C + "test_verifier_compares_identifiers_exactly", _C + "test_valid_sql_is_accepted_per_database",
        _C + "test_text_in_type_unit_or_charset_positions_never_reaches_the_output", _READS, *_ATTACKS,
    ),
}  # fmt: skip
"""The files mutmut mutates, each with its fast test selection (node ids)."""


def mutmut(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("mutmut") is None:
        print("mutmut is not installed: skipped (pip install mutmut)")
        return 0
    totals: dict[str, int] = {}
    for path in args.files:
        for status, n in _mutmut_file(path, MUTMUT[path], args).items():
            totals[status] = totals.get(status, 0) + n
    print(f"\nall files: {_score(totals)}")
    return 0


def _score(counts: dict[str, int]) -> str:
    tested = sum(n for s, n in counts.items() if s in ("killed", "survived", "timeout", "suspicious"))
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    parts = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
    return f"{parts}; score {killed}/{tested} = {killed / tested:.1%}" if tested else parts


def _mutmut_file(path: str, tests: Sequence[str], args: argparse.Namespace) -> dict[str, int]:
    """One mutmut run over ``path`` with its own test selection, in a private copy."""
    config = "\n".join(
        [
            "[mutmut]",
            "source_paths =\n    rls\n    dialects",
            f"only_mutate =\n    {path}",
            "pytest_add_cli_args_test_selection =\n" + "\n".join(f"    {t}" for t in tests),
            "pytest_add_cli_args =\n    -p\n    no:cacheprovider",
            "use_git_change_detection = false",
            "",
        ]
    )
    mutmut_bin = str(Path(sys.executable).parent / "mutmut")
    with tree_copy() as where:
        (where / "setup.cfg").write_text(config)
        start = time.monotonic()
        run = [mutmut_bin, "run", "--max-children", str(args.jobs)]
        subprocess.run(run, cwd=where, env=_env(), stdout=subprocess.DEVNULL, check=False)
        listing = [mutmut_bin, "results", "--all", "true"]
        results = subprocess.run(listing, cwd=where, env=_env(), capture_output=True, text=True).stdout
        counts: dict[str, int] = {}
        survivors: list[str] = []
        for line in results.splitlines():
            name, _, status = line.strip().rpartition(": ")
            if not name:
                continue
            counts[status] = counts.get(status, 0) + 1
            if status == "survived":
                survivors.append(name)
        print(f"mutmut {path}: {time.monotonic() - start:.0f}s; {_score(counts)}", flush=True)
        if args.save:
            # The mutated source and mutmut's verdicts, to read the survivors after the copy is gone.
            target = Path(args.save)
            target.mkdir(parents=True, exist_ok=True)
            for produced in (where / "mutants" / path).parent.glob(Path(path).name + "*"):
                shutil.copy2(produced, target / produced.name)
        if args.show:
            for line in survivor_diffs(where / "mutants" / path, survivors):
                print(f"  {line}")
        else:
            for name in survivors:
                print(f"  survived: {name}")
    return counts


def survivor_diffs(mutated: Path, survivors: Sequence[str]) -> list[str]:
    """One line per surviving mutant: its function, the lines removed and added (read from
    mutmut's mutated copy, much faster than ``mutmut show`` once per mutant)."""
    source = mutated.read_text()
    functions = {
        node.name: textwrap.dedent(ast.get_source_segment(source, node) or "").splitlines()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name
    }
    lines = []
    for key in survivors:
        name = key.rsplit(".", 1)[-1]
        base = name.rsplit("__mutmut_", 1)[0]
        original = [line.replace(base + "__mutmut_orig", "f") for line in functions.get(base + "__mutmut_orig", [])]
        mutant = [line.replace(name, "f") for line in functions.get(name, [])]
        changed = [
            line.strip()
            for line in difflib.unified_diff(original, mutant, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        label = name.replace("x\u01c1", "").replace("\u01c1", ".").removeprefix("x_")
        lines.append(f"{label}: {' || '.join(c[:120] for c in changed)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("rules", "mutmut"), nargs="?", default="rules")
    parser.add_argument("--only", action="append", help="run this rule removal only (repeatable)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--all-failures", action="store_true", help="rules: run every selected test, not up to the first failure"
    )
    parser.add_argument("--list", action="store_true", help="list the rule removals and exit")
    parser.add_argument("--files", nargs="+", default=list(MUTMUT), choices=list(MUTMUT), help="mutmut: files")
    parser.add_argument("--save", help="mutmut: copy the mutated files and verdicts to this directory")
    parser.add_argument("--show", action="store_true", help="mutmut: print each survivor's diff")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:38} {m.path:28} {m.rule}")
        return 0
    return rules(args) if args.part == "rules" else mutmut(args)


if __name__ == "__main__":
    sys.exit(main())
