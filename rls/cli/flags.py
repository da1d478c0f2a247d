"""Every setting is a flag, anywhere on the command line, in one clear spelling.

The flag of a setting is its name with ``_`` written ``-``, after one dash (the
original's Go style) or two (GNU style): ``auth.secret_file`` is ``-auth.secret-file``
or ``--auth.secret-file``; the name exactly as in YAML (``-auth.secret_file``) is
accepted too. A value follows as the next argument or after ``=``; a boolean flag alone
means true and takes its value only after ``=`` (``-auth.enabled=false``), as Go's
flag package does, so ``rest -auth.enabled serve`` still reads ``serve`` as the command.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rls.config import SETTINGS, ConfigError, Setting

_FLAG_LIKE = re.compile(r"--?[A-Za-z][A-Za-z0-9_.-]*")

CONFIG_FLAG = "config"
"""Not a setting: the YAML file the settings are read from."""


def flag_name(setting_name: str) -> str:
    """The documented flag of a setting, without dashes.

    >>> flag_name("auth.secret_file")
    'auth.secret-file'
    """
    return setting_name.replace("_", "-")


def spellings(setting_name: str) -> tuple[str, ...]:
    """Every accepted spelling, the documented single-dash one first.

    >>> spellings("db.url")
    ('-db.url', '--db.url')
    >>> spellings("page_size")
    ('-page-size', '--page-size', '-page_size', '--page_size')
    """
    names = dict.fromkeys((flag_name(setting_name), setting_name))
    return tuple(f"{dashes}{name}" for name in names for dashes in ("-", "--"))


def _table() -> dict[str, Setting | None]:
    table: dict[str, Setting | None] = {s: None for s in spellings(CONFIG_FLAG)}
    for setting in SETTINGS:
        table.update(dict.fromkeys(spellings(setting.name), setting))
    return table


@dataclass
class Flags:
    """What :func:`extract_flags` took out of the command line."""

    settings: dict[str, str] = field(default_factory=dict)
    """Raw values by setting name (``db.url``), the last one given wins."""
    config_file: str | None = None
    rest: list[str] = field(default_factory=list)
    """The command line without them: the command, its options and arguments."""


def extract_flags(argv: Sequence[str]) -> Flags:
    """Take every setting flag (and ``-config``) out of ``argv``, wherever it stands.

    >>> f = extract_flags(["-db.url", "sqlite://a.db", "auth", "--auth.enabled", "setup", "--addr=:1"])
    >>> f.settings, f.rest
    ({'db.url': 'sqlite://a.db', 'auth.enabled': 'true', 'addr': ':1'}, ['auth', 'setup'])
    """
    table = _table()
    flags = Flags()
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # everything after is an argument, never a flag
            flags.rest.extend(args[i:])
            break
        spelling, eq, value = arg.partition("=")
        if spelling not in table:
            if _looks_like_a_setting(spelling):
                raise ConfigError(f"unknown flag {spelling} (rest --help lists them)")
            flags.rest.append(arg)
            i += 1
            continue
        setting = table[spelling]
        if not eq:
            if setting is not None and setting.type is bool:
                value = "true"
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise ConfigError(f"flag {spelling} needs a value")
        if setting is None:
            flags.config_file = value
        else:
            flags.settings[setting.name] = value
        i += 1
    return flags


def _looks_like_a_setting(arg: str) -> bool:
    """``-db.urll``: a dotted flag no setting has (argparse would misread what follows).

    >>> [_looks_like_a_setting(a) for a in ("-db.urll", "-1.5", "a.b", "-x.y > 0")]
    [True, False, False, False]
    """
    return _FLAG_LIKE.fullmatch(arg) is not None and "." in arg


def settings_help() -> str:
    """The settings as flags, for ``rest --help``: flag, environment variable, default, help."""
    rows = [(f"-{flag_name(s.name)}", s.env or "", _default(s), s.help) for s in SETTINGS]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"  {flag:<{widths[0]}}  {env:<{widths[1]}}  {default:<{widths[2]}}  {text}"
        for flag, env, default, text in rows
    )


def _default(setting: Setting) -> str:
    if setting.type is tuple:
        return ",".join(setting.default) or "''"
    if setting.type is bool:
        return "true" if setting.default else "false"
    return str(setting.default) if setting.default != "" else "''"
