"""One parser style for every command: options in both dash styles, help with examples."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

EXAMPLES = "examples:\n"


def examples_epilog(examples: Sequence[str], extra: str = "") -> str:
    """The ``examples:`` block closing a command's help."""
    lines = "\n".join(f"  {e}" for e in examples)
    return f"{EXAMPLES}{lines}\n{extra}" if examples else extra


def add_command(commands: Any, name: str, help: str, examples: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A sub-command whose help ends with examples; no abbreviated options."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help,
        epilog=examples_epilog(examples, "\nEvery setting flag (rest --help) is accepted here too."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    return parser


def add_option(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> argparse.Action:
    """An option spelled ``-name`` (Go style, as the settings) and ``--name`` (GNU style)."""
    return parser.add_argument(f"-{name}", f"--{name}", **kwargs)


def add_subcommands(parser: argparse.ArgumentParser, dest: str, *, required: bool = True) -> Any:
    return parser.add_subparsers(dest=dest, metavar="command", required=required)


def command_tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Node]:
    """Every command path with its sub-command names and option spellings (for completion)."""
    node = Node()
    tree = {path: node}
    for action in parser._actions:  # argparse keeps its actions here; there is no public API
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                node.commands.append(name)
                tree.update(command_tree(sub, (*path, name)))
        else:
            node.options.extend(s for s in action.option_strings if s not in ("-h",))
    return tree


class Node:
    """One command: its sub-commands and options."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.options: list[str] = []
