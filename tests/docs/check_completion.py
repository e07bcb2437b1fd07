#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The bash completions in completions/ load and agree with --help.

    check_completion.py NAME=PROGRAM:COMPLETION_FILE ...

For each program, in a fresh bash (after bash-completion's own script when it
is installed, alone otherwise): sourcing the file defines `complete -p NAME`;
completing the first word offers every command --help lists under
"Commands:"; and the options offered for "-", first alone and then after each
command, are exactly the options --help prints."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_options import DEADLINE_S, help_options, run_checks  # noqa: E402

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def bash(script, cwd):
    """Run script in a bash without any user or system start-up files."""
    pre = f"source {BASH_COMPLETION} >/dev/null 2>&1\n" if os.path.exists(BASH_COMPLETION) else ""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", pre + script], cwd=cwd,
                       capture_output=True, text=True, timeout=DEADLINE_S)
    return r.returncode, r.stdout, r.stderr


def complete_spec(name, path, cwd):
    """`complete -p NAME` after sourcing path, or an exception saying why not."""
    rc, out, err = bash(f"source '{path}' || exit 9\ncomplete -p '{name}'", cwd)
    if rc != 0:
        raise RuntimeError(f"source {path}; complete -p {name}: exit {rc}: {err.strip()}")
    m = re.search(r"-F (\S+)", out)
    if not m:
        raise RuntimeError(f"complete -p {name} names no function: {out.strip()}")
    return m.group(1)


def complete(name, path, func, words, cwd):
    """What func offers for the last of words (the command line NAME words...)."""
    line = " ".join([name, *words])
    argv = " ".join(f"'{w}'" for w in [name, *words])
    script = (f"source '{path}'\nCOMP_WORDS=({argv}); COMP_CWORD={len(words)}\n"
              f"COMP_LINE='{line}'; COMP_POINT={len(line)}\n"
              f"{func} '{name}' '{words[-1]}' '{([name, *words])[-2]}'\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    rc, out, err = bash(script, cwd)
    if rc != 0:
        raise RuntimeError(f"completing '{line}': exit {rc}: {err.strip()}")
    return set(w for w in out.split("\n") if w)


def help_commands(program):
    """The commands --help lists under "Commands:" (none for a program without)."""
    r = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=DEADLINE_S)
    m = re.search(r"^Commands:\n((?:  .*\n|\s*\n)*?)(?:\S|\Z)", r.stdout, re.M)
    return set(re.findall(r"^  ([a-z]\w*)", m.group(1), re.M)) if m else set()


def check(name, program, path, cwd):
    problems = []
    func = complete_spec(name, path, cwd)
    commands = help_commands(program)
    first = complete(name, path, func, [""], cwd)
    for c in sorted(commands - first):
        problems.append(f"{name}: completing the first word does not offer '{c}'")
    if not commands and first:
        problems.append(f"{name}: the first word offers {sorted(first)}, but --help lists "
                        "no commands")
    offered = complete(name, path, func, ["-"], cwd)
    for c in sorted(commands):
        offered |= complete(name, path, func, [c, "-"], cwd)
    shown = help_options(program)
    for o in sorted(shown - offered):
        problems.append(f"{name}: {o} is in --help but never offered by {path}")
    for o in sorted(offered - shown):
        problems.append(f"{name}: {path} offers {o}, which --help does not show")
    return problems, len(commands), len(offered)


def main(argv):
    with tempfile.TemporaryDirectory(prefix="completion-") as cwd:
        def one(name, rest):
            program, _, path = rest.rpartition(":")
            problems, ncmd, nopt = check(name, program, os.path.abspath(path), cwd)
            return problems, f"complete -p defined, {ncmd} commands, {nopt} options"
        return run_checks(argv, __doc__, one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
