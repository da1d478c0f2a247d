"""Every setting is a flag in every spelling; defaults < file < environment < flags.

Generated over the settings table: a setting added to rls/config.py is covered here
without a new test.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import rls.cli
from rls.cli import build_parser, main
from rls.cli.completion import completion_script
from rls.cli.flags import extract_flags, flag_name, spellings
from rls.cli.parsing import command_tree
from rls.config import SETTINGS, Config, ConfigError, Setting, load_config, markdown_settings, merge_layers

SECRET = "s" * 40
ids = [s.name for s in SETTINGS]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def value_for(setting: Setting) -> str:
    """A raw value unlike the default (the flag layer does not convert)."""
    return "true" if setting.type is bool and not setting.default else "false" if setting.type is bool else "v-1"


# -- spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=ids)
def test_every_setting_has_a_single_and_a_double_dash_flag(setting):
    names = spellings(setting.name)
    assert names[:2] == (f"-{flag_name(setting.name)}", f"--{flag_name(setting.name)}")
    assert f"-{setting.name}" in names and f"--{setting.name}" in names  # the YAML name too


@pytest.mark.parametrize("setting", SETTINGS, ids=ids)
def test_every_spelling_with_a_separate_value_or_equals(setting):
    value = value_for(setting)
    for spelling in spellings(setting.name):
        for argv in (
            ([spelling, value], [f"{spelling}={value}"]) if setting.type is not bool else ([f"{spelling}={value}"],)
        ):
            flags = extract_flags(["auth", *argv, "setup"])
            assert (flags.settings, flags.rest) == ({setting.name: value}, ["auth", "setup"]), argv


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.type is bool], ids=lambda s: s.name)
def test_a_boolean_flag_alone_is_true_and_leaves_the_command(setting):
    for spelling in spellings(setting.name):
        flags = extract_flags([spelling, "serve"])
        assert (flags.settings, flags.rest) == ({setting.name: "true"}, ["serve"])


def test_flags_stand_anywhere_and_the_last_wins():
    flags = extract_flags(["-addr", ":1", "auth", "policy", "--addr=:2", "list", "-addr", ":3"])
    assert (flags.settings, flags.rest) == ({"addr": ":3"}, ["auth", "policy", "list"])


def test_arguments_after_double_dash_are_never_flags():
    flags = extract_flags(["auth", "user", "add", "--", "-addr", "pw", "false"])
    assert flags.settings == {} and flags.rest == ["auth", "user", "add", "--", "-addr", "pw", "false"]


def test_the_config_flag_in_both_spellings():
    assert extract_flags(["-config", "a.yml"]).config_file == "a.yml"
    assert extract_flags(["--config=b.yml", "serve"]).config_file == "b.yml"


def test_a_flag_without_its_value_is_one_line_and_exit_2():
    assert run("demo", "-db.url") == (2, "", "rest: flag -db.url needs a value\n")


def test_an_unknown_setting_flag_is_one_line_and_exit_2():
    assert run("-db.urll", "x", "demo") == (2, "", "rest: unknown flag -db.urll (rest --help lists them)\n")


def test_an_unknown_option_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--nope"])
    assert exc.value.code == 2 and "unrecognized arguments: --nope" in capsys.readouterr().err


# -- precedence: defaults < file < environment < flags --------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=ids)
def test_each_layer_overrides_the_one_below(setting, tmp_path):
    config_file = tmp_path / "rest.yml"
    config_file.write_text(yaml.safe_dump({setting.name: "from-file"}), encoding="utf-8")
    env = {setting.env: "from-env"} if setting.env else {}
    flag = extract_flags([spellings(setting.name)[0] + "=from-flag"]).settings
    assert merge_layers(None, environ={}, overrides={}) == {}  # the default
    assert merge_layers(str(config_file), environ={}, overrides={}) == {setting.name: "from-file"}
    if setting.env:
        assert merge_layers(str(config_file), environ=env, overrides={}) == {setting.name: "from-env"}
    assert merge_layers(str(config_file), environ=env, overrides=flag) == {setting.name: "from-flag"}


@pytest.mark.parametrize("setting", SETTINGS, ids=ids)
def test_a_nested_yaml_file_names_the_same_setting(setting, tmp_path):
    *parents, leaf = setting.name.split(".")
    data: dict = {leaf: "x"}
    for parent in reversed(parents):
        data = {parent: data}
    (tmp_path / "rest.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    assert merge_layers(str(tmp_path / "rest.yml"), environ={}, overrides={}) == {setting.name: "x"}


@pytest.fixture
def served(monkeypatch):
    """The Config `rest serve` would start with (the server itself is not started)."""
    seen: list[Config] = []
    monkeypatch.setattr(rls.cli, "cmd_serve", lambda config, args, out: seen.append(config) or 0)
    for setting in SETTINGS:
        if setting.env:
            monkeypatch.delenv(setting.env, raising=False)
    return seen


def test_precedence_end_to_end_with_typed_values(served, tmp_path, monkeypatch):
    (tmp_path / "rest.yml").write_text("workers: 2\npage_size: 10\ncors: {origins: [a, b]}\naddr: ':1'\n")
    monkeypatch.setenv("REST_WORKERS", "3")
    monkeypatch.setenv("REST_PAGE_SIZE", "20")
    assert run("-config", str(tmp_path / "rest.yml"), "--page-size", "30", "serve")[0] == 0
    config = served[-1]
    assert (config.workers, config.page_size, config.cors_origins, config.addr) == (3, 30, ("a", "b"), ":1")
    assert config.max_page_size == Config().max_page_size  # the default


def test_flags_after_the_sub_command_and_without_one(served):
    assert run("serve", "-workers", "4", "--cors.enabled")[0] == 0
    assert run("-workers=5", "-cors.enabled=false")[0] == 0
    assert [(c.workers, c.cors_enabled) for c in served] == [(4, True), (5, False)]


# -- the secret from a file -----------------------------------------------------------------


def test_the_secret_comes_from_a_file(served, tmp_path):
    (tmp_path / "secret").write_text(SECRET + "\n")
    assert run("-auth.enabled", "-auth.secret-file", str(tmp_path / "secret"), "serve")[0] == 0
    assert served[-1].auth_secret == SECRET and served[-1].auth_enabled is True
    assert SECRET not in repr(served[-1])


def test_the_secret_file_from_the_environment(tmp_path):
    (tmp_path / "secret").write_text(SECRET)
    config = load_config(environ={"REST_AUTH_SECRET_FILE": str(tmp_path / "secret"), "REST_AUTH_ENABLED": "1"})
    assert config.auth_secret == SECRET


def test_a_secret_and_a_different_secret_file_are_refused(tmp_path):
    (tmp_path / "secret").write_text(SECRET)
    with pytest.raises(ConfigError, match="differ"):
        load_config(environ={"REST_AUTH_SECRET": "t" * 40}, overrides={"auth.secret_file": str(tmp_path / "secret")})
    same = load_config(environ={"REST_AUTH_SECRET": SECRET}, overrides={"auth.secret_file": str(tmp_path / "secret")})
    assert same.auth_secret == SECRET


def test_a_missing_secret_file_is_one_line_and_exit_2(tmp_path):
    status, _, err = run("-auth.secret-file", str(tmp_path / "nope"), "serve")
    assert status == 2 and err.startswith("rest: cannot read auth.secret_file") and err.count("\n") == 1


def test_a_short_secret_in_the_file_is_refused(tmp_path):
    (tmp_path / "secret").write_text("short\n")
    assert "at least 32 bytes" in run("-auth.secret-file", str(tmp_path / "secret"), "serve")[2]


# -- help, positional arguments, completion -------------------------------------------------


def test_help_shows_examples_and_every_setting_as_a_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "examples:\n  rest -db.url sqlite://demo.db demo" in text
    for setting in SETTINGS:
        assert f"  -{flag_name(setting.name)} " in text, setting.name


@pytest.mark.parametrize("path", [p for p in command_tree(build_parser()) if p], ids=" ".join)
def test_every_sub_command_help_shows_examples(path, capsys):
    with pytest.raises(SystemExit):
        main([*path, "-h"])
    text = capsys.readouterr().out
    assert "examples:\n  rest " in text or "examples:\n  source " in text or "examples:\n  printf" in text


@pytest.mark.parametrize("argv", [(), ("native",), ("--native",), ("-native",)])
def test_export_native_is_positional_and_optional(make_database_url, argv):
    status, _, err = run("-db.url", make_database_url("sqlite"), "auth", "policy", "export", *argv)
    assert status == 2 and "PostgreSQL only" in err


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_parse(shell):
    script = run("completion", shell)[1]
    assert script.startswith(f"# {shell} completion for rest")
    if shutil.which(shell):
        subprocess.run([shell, "-n"], input=script, text=True, check=True)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("rest au", {"auth"}),
        ("rest auth po", {"policy"}),
        ("rest -db.url sqlite://x.db auth policy ex", {"explain", "export"}),
        ("rest auth policy explain todos read -user", {"-user-id"}),
        ("rest -auth.secret-f", {"-auth.secret-file"}),
        ("rest completion ", set()),
    ],
)
def test_bash_completion_completes_commands_and_flags(line, expected):
    script = completion_script(build_parser(), "bash")
    words = line.split(" ")
    probe = (
        f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_rest_complete; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert set(result.stdout.split()) == expected


# -- the README's settings table --------------------------------------------------------------


def test_the_readme_settings_rows_are_the_generated_ones():
    """Every row of the README naming a setting says what rls/config.py says (defaults and
    help included); tests/test_config.py checks that every setting has a row."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    generated = {row.split(" | ")[0]: row for row in markdown_settings().splitlines()[2:]}
    rows = [line for line in readme.splitlines() if line.split(" | ")[0] in generated]
    assert rows and all(row == generated[row.split(" | ")[0]] for row in rows)
