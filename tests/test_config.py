"""Settings: defaults < YAML file < environment < flags; bad values are clear errors."""

from __future__ import annotations

import pytest

from rls.config import SETTINGS, Config, ConfigError, load_config, split_addr


def write(tmp_path, text):
    path = tmp_path / "rest.yml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_original():
    config = load_config(environ={})
    assert config.addr == ":3000" and config.auth_enabled is False
    assert config.page_size == 100 and config.max_page_size == 1000


def test_yaml_nested_and_dotted_keys(tmp_path):
    secret = "s" * 32
    text = f"addr: :4000\ndb:\n  url: sqlite://x.db\nauth.enabled: true\nauth.secret: {secret}\n"
    path = write(tmp_path, text + "cors:\n  origins: [a, b]\n")
    config = load_config(path, environ={})
    assert (config.addr, config.db_url, config.auth_enabled, config.cors_origins) == (
        ":4000",
        "sqlite://x.db",
        True,
        ("a", "b"),
    )


def test_environment_overrides_file_and_flags_override_environment(tmp_path):
    path = write(tmp_path, "addr: :4000\ndb.url: sqlite://file.db\n")
    env = {"REST_ADDR": ":5000", "REST_DB_URL": "sqlite://env.db"}
    config = load_config(path, environ=env, overrides={"db.url": "sqlite://flag.db", "addr": None})
    assert (config.addr, config.db_url) == (":5000", "sqlite://flag.db")


def test_unknown_setting_in_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting.*db\.ur"):
        load_config(write(tmp_path, "db.ur: x\n"), environ={})


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"REST_AUTH_ENABLED": "maybe"}, "auth.enabled"), ({"REST_PAGE_SIZE": "ten"}, "page_size")],
)
def test_bad_values_name_the_setting(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(environ=env)


def test_missing_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "absent.yml"), environ={})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [\n"), environ={})


def test_every_setting_has_help_and_an_environment_variable():
    for setting in SETTINGS:
        assert setting.help and setting.env and setting.env.startswith("REST_")


@pytest.mark.parametrize(("addr", "expected"), [(":3000", ("0.0.0.0", 3000)), ("127.0.0.1:80", ("127.0.0.1", 80))])
def test_split_addr(addr, expected):
    assert split_addr(addr) == expected


@pytest.mark.parametrize("addr", ["3000", ":0", ":x", "host:"])
def test_split_addr_rejects_bad_addresses(addr):
    with pytest.raises(ConfigError):
        split_addr(addr)


def test_readme_lists_every_setting():
    from pathlib import Path

    # The README's settings table, or the table of the docs/ page of a feature.
    root = Path(__file__).parent.parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in [root / "README.md", *sorted(root.glob("docs/*.md"))])
    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in text, setting.name


@pytest.mark.parametrize(
    "name",
    [
        "REST_MAX_URL_BYTES",
        "REST_MAX_FILTERS",
        "REST_MAX_SELECT_ITEMS",
        "REST_MAX_JSON_DEPTH",
        "REST_MAX_JSON_PATH_STEPS",
    ],
)
def test_input_limits_below_one_are_refused(name):
    with pytest.raises(ConfigError, match=name.removeprefix("REST_").lower()):
        load_config(environ={name: "0"})


def test_setup_token_stays_out_of_the_config_repr():
    assert "s3cret-setup-token-0123" not in repr(
        load_config(environ={"REST_AUTH_SETUP_TOKEN": "s3cret-setup-token-0123"})
    )


def test_query_limit_defaults_are_the_settings_defaults():
    from rls.http.app import limits_of
    from rls.rest.query import DEFAULT_LIMITS

    assert limits_of(Config()) == DEFAULT_LIMITS
