#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The four programs speak with one voice when the command line is wrong.

    check_usage_errors.py NAME=PROGRAM ...

For each program: an unknown option, a missing argument, an unexpected
argument and, for the programs with subcommands, a misspelt command and an
unknown option of a command.  Each must exit 2, print nothing on stdout and
exactly two lines on stderr, "NAME: message" and "Try 'NAME [COMMAND] --help'."
(common/cli.c); the message must say what was wrong, and a misspelt command
must be answered with the command meant.  Nothing here reaches a daemon or a
device: every case fails before the program does any work."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_options import run_checks  # noqa: E402

DEADLINE_S = 30

# name -> [(argv, what the message must say)]; COMMON applies to all four.
COMMON = [
    (["--no-such-option"], r"unknown option '--no-such-option'"),
    (["-Z"], r"unknown option '-Z'"),
    (["--help=x"], r"option '--help' takes no argument"),
]
CASES = {
    "realcomd": [
        (["--config"], r"option '--config' needs an argument"),
        (["-c"], r"option '-c' needs an argument"),
        (["--foregorund"], r"unknown option '--foregorund' \(did you mean '--foreground'\?\)"),
        (["extra"], r"unexpected argument 'extra'"),
    ],
    "realcomctl": [
        (["--socket"], r"option '--socket' needs an argument"),
        (["stauts"], r"unknown command 'stauts' \(did you mean 'status'\?\)"),
        (["relaod"], r"unknown command 'relaod' \(did you mean 'reload'\?\)"),
        (["frobnicate"], r"unknown command 'frobnicate'$"),
        ([], r"missing command \(status, metrics, reload or line\)"),
        (["status", "--jsno"], r"status: unknown option '--jsno'"),
        (["status", "extra"], r"status: unexpected argument 'extra'"),
        (["line"], r"line: missing TTY"),
    ],
    "dsu": [
        (["serch"], r"unknown command 'serch' \(did you mean 'search'\?\)"),
        (["mpa"], r"unknown command 'mpa' \(did you mean 'map'\?\)"),
        ([], r"missing command \(search, info, setup(,| or) map\b"),
        (["info", "192.0.2.1", "--timeout"], r"info: option '--timeout' needs an argument"),
        (["search", "--no-such-option"], r"search: unknown option '--no-such-option'"),
        (["search", "extra"], r"search: unexpected argument 'extra'"),
        (["map", "192.0.2.1", "--c", "x"], r"map: ambiguous option '--c' \(--cert, --config\)"),
        (["setup"], r"setup: missing HOST"),
    ],
    "nportsim": [
        (["--ports"], r"option '--ports' needs an argument"),
        (["-n"], r"option '-n' needs an argument"),
        (["--ports", "99"], r"--ports '99': expected 1 to 32"),
        (["extra"], r"unexpected argument 'extra'"),
    ],
}


def check(name, program):
    """Problems found, one line each."""
    problems = []
    for args, want in COMMON + CASES[name]:
        shown = " ".join([name, *args])
        r = subprocess.run([program, *args], capture_output=True, text=True,
                           timeout=DEADLINE_S, stdin=subprocess.DEVNULL)
        lines = r.stderr.splitlines()
        cmd = args[0] if name == "dsu" and args and not args[0].startswith("-") and \
            not want.startswith("unknown command") else None
        hint = f"Try '{name} {cmd} --help'." if cmd else f"Try '{name} --help'."
        if r.returncode != 2:
            problems.append(f"{shown}: exit {r.returncode}, expected 2")
        if r.stdout:
            problems.append(f"{shown}: printed on stdout: {r.stdout!r}")
        if len(lines) != 2 or not lines[0].startswith(f"{name}: ") or lines[1] != hint:
            problems.append(f"{shown}: stderr is not '{name}: message' + \"{hint}\": "
                            f"{r.stderr!r}")
        elif not re.search(want, lines[0][len(name) + 2:]):
            problems.append(f"{shown}: message {lines[0]!r} does not say /{want}/")
    return problems, len(COMMON) + len(CASES[name])


def main(argv):
    def one(name, program):
        problems, n = check(name, program)
        return problems, f"{n} usage errors exit 2 in the common shape"
    return run_checks(argv, __doc__, one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
