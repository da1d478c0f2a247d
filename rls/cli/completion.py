"""`rest completion bash|zsh`: a completion script generated from the parser itself."""

from __future__ import annotations

import argparse
import shlex

from rls.cli.flags import CONFIG_FLAG, flag_name
from rls.cli.parsing import command_tree
from rls.config import SETTINGS

_BASH = """\
# bash completion for rest; load it with:  source <(rest completion bash)
_rest_complete() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" next word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        [[ "$word" == -* ]] && continue
        next="${{path:+$path }}$word"
        case "$next" in
            {paths}) path="$next" ;;
        esac
    done
    local words
    case "$path" in
{commands}
    esac
    if [[ "$cur" == -* ]]; then
        case "$path" in
{options}
        esac
        words="$words {settings}"
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _rest_complete rest
"""

_ZSH = """\
# zsh completion for rest; load it with:  source <(rest completion zsh)
autoload -U +X bashcompinit && bashcompinit
"""


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The script for ``shell`` (bash or zsh; zsh runs the bash one through bashcompinit)."""
    tree = command_tree(parser)
    paths = " | ".join(shlex.quote(" ".join(p)) for p in tree if p)
    commands = "\n".join(
        f"        {shlex.quote(' '.join(p))}) words={shlex.quote(' '.join(n.commands))} ;;" for p, n in tree.items()
    )
    options = "\n".join(
        f"            {shlex.quote(' '.join(p))}) words={shlex.quote(' '.join(n.options))} ;;"
        for p, n in tree.items()
        if n.options
    )
    flags = [f"-{flag_name(s.name)}" for s in SETTINGS] + [f"-{CONFIG_FLAG}"]
    bash = _BASH.format(paths=paths or "''", commands=commands, options=options, settings=" ".join(flags))
    return bash if shell == "bash" else _ZSH + bash
