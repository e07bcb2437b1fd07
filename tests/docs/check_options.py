#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Option drift between each program's --help and its man page.

    check_options.py NAME=PROGRAM:PAGE.scd ...

For each program: the long and short options its --help prints, against the
options its man page names in SYNOPSIS and in the terms of OPTIONS (the
unindented lines; descriptions may mention other programs' options).  Fails
naming every option that is in one but not the other, and every option of
the page that SYNOPSIS does not list.  It reads what the program prints, not
its getopt tables: what a user is told is what must agree."""
import re
import subprocess
import sys

OPTION = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
DEADLINE_S = 30


def options(text):
    return set(OPTION.findall(text))


def help_options(program):
    """The options in PROGRAM --help; it must succeed and print them on stdout."""
    r = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=DEADLINE_S)
    if r.returncode != 0:
        raise RuntimeError(f"{program} --help exited {r.returncode}: {r.stderr.strip()}")
    return options(r.stdout)


def sections(page):
    """scdoc source -> {section title: [lines]}."""
    out, title = {}, None
    with open(page, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"# (.+)", line)
            if m:
                title = m.group(1).strip()
                out[title] = []
            elif title:
                out[title].append(line)
    return out


def page_options(page):
    """(SYNOPSIS options, OPTIONS term options, {option: its other spelling}) of
    a man page; a term "*-c, --config* _FILE_" spells one option two ways."""
    s = sections(page)
    if "SYNOPSIS" not in s:
        raise RuntimeError(f"{page}: no SYNOPSIS section")
    synopsis = options("\n".join(s["SYNOPSIS"]))
    term_lines = "\n".join(l for l in s.get("OPTIONS", []) if l and not l[0].isspace())
    terms = options(term_lines)
    alias = {}
    for short, long in re.findall(r"(-[a-zA-Z]), (--[a-z0-9][a-z0-9-]*)", term_lines.replace("*", "")):
        alias[short], alias[long] = long, short
    return synopsis, terms, alias


def check(name, program, page):
    """Problems found, as lines naming the option and where it is missing."""
    shown = help_options(program)
    synopsis, terms, alias = page_options(page)
    documented = synopsis | terms
    problems = []
    for o in sorted(shown - documented):
        problems.append(f"{name}: {o} is in --help but not in {page}")
    for o in sorted(documented - shown):
        problems.append(f"{name}: {o} is in {page} but not in --help")
    for o in sorted(terms - synopsis):
        if alias.get(o) not in synopsis:
            problems.append(f"{name}: {o} is in {page}'s OPTIONS but not its SYNOPSIS")
    if not shown:
        problems.append(f"{name}: --help shows no options at all")
    return problems, len(shown)


def run_checks(argv, doc, check):
    """Each NAME=REST argument through check(name, rest), which returns the
    problems found and, for none, what was checked; "FAIL ..." or "ok NAME:
    ..." per argument, then "N passed, N failed".  The exit status."""
    if not argv:
        print(doc)
        return 2
    failed = 0
    for arg in argv:
        name, _, rest = arg.partition("=")
        try:
            problems, done = check(name, rest)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            problems, done = [f"{name}: {e}"], ""
        for p in problems:
            print(f"FAIL {p}")
        if not problems:
            print(f"ok {name}: {done}")
        failed += bool(problems)
    print(f"{len(argv) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    def one(name, rest):
        program, _, page = rest.rpartition(":")
        problems, n = check(name, program, page)
        return problems, f"{n} options agree between --help and {page}"
    return run_checks(argv, __doc__, one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
