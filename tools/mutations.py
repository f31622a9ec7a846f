"""The mutation suite: planted bugs that the tests must catch (`make mutations`).

Each `Mutation` is one small, realistic bug: an exact text substitution inside a named
function (or module constant) of one file under `tfbert/`, and the tests that claim to
cover that code. The suite copies the repository's sources to a scratch directory, checks
that those tests pass there unmutated, then plants each bug alone, runs its tests (stopping
at the first failure) and restores the file. A bug is *caught* when a test fails, *survived*
when every test passes, and *broken* when the run errs otherwise (collection, timeout): the
patch itself is wrong. The report ends with `N/M planted bugs caught`; the exit status is 1
if any bug survived or broke.

    .venv/bin/python tools/mutations.py                 # every mutation, ~15 min on 2 cores
    .venv/bin/python tools/mutations.py --only trainer  # names containing "trainer"
    .venv/bin/python tools/mutations.py --list          # the table, nothing run

The list (`MUTATIONS`) lives in `tools/mutation_list.py`.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a scratch copy holds: the package, its tests and what the tests read.
COPIED = ("tfbert", "tests", "tools", "setup.cfg", "pyproject.toml")


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    file: str            # relative to the repository root
    function: str        # "function", "Class.method", or a module-level NAME
    old: str             # occurs exactly once inside `function`
    new: str
    tests: tuple         # pytest node ids that must fail with the bug planted
    why: str = ""


def _span(tree, qualified: str) -> tuple[int, int]:
    """`(first line, last line)` of a function, method, class or module-level assignment."""
    parts = qualified.split(".")
    body = tree.body
    node = None
    for depth, part in enumerate(parts):
        found = None
        for child in body:
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                    child.name == part:
                found = child
            elif depth == 0 and isinstance(child, (ast.Assign, ast.AnnAssign)):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = child
        if found is None:
            raise ValueError(f"no {'.'.join(parts[:depth + 1])!r}")
        node, body = found, getattr(found, "body", [])
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return start, node.end_lineno


def mutated_source(source: str, mutation: Mutation) -> str:
    """`source` with `mutation.old` replaced inside `mutation.function`; `ValueError` when
    the function is missing or `old` does not occur there exactly once."""
    try:
        first, last = _span(ast.parse(source), mutation.function)
    except ValueError as err:
        raise ValueError(f"{mutation.name}: {mutation.file}: {err}") from None
    lines = source.splitlines(keepends=True)
    before, region, after = ("".join(lines[:first - 1]), "".join(lines[first - 1:last]),
                             "".join(lines[last:]))
    count = region.count(mutation.old)
    if count != 1:
        raise ValueError(f"{mutation.name}: {mutation.file}: expected the old text once in "
                         f"{mutation.function}, found it {count} times")
    return before + region.replace(mutation.old, mutation.new) + after


def check_list(mutations, root=REPO) -> list:
    """Problems with the list itself: names, patches that no longer apply, test files."""
    problems, names = [], set()
    for m in mutations:
        if m.name in names:
            problems.append(f"{m.name}: the name is used twice")
        names.add(m.name)
        if not m.tests:
            problems.append(f"{m.name}: names no test")
        try:
            with open(os.path.join(root, m.file), encoding="utf-8") as f:
                mutated_source(f.read(), m)
        except (OSError, ValueError) as err:
            problems.append(str(err))
        for test in m.tests:
            path, _, function = test.partition("::")
            function = re.sub(r"\[.*\]$", "", function)
            try:
                with open(os.path.join(root, path), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                problems.append(f"{m.name}: no test file {path}")
                continue
            if function and not re.search(rf"^def {re.escape(function)}\(", text, re.M):
                problems.append(f"{m.name}: no test {test}")
    return problems


def _scratch(parent) -> str:
    root = tempfile.mkdtemp(prefix="mutants-", dir=parent)
    for name in COPIED:
        source = os.path.join(REPO, name)
        target = os.path.join(root, name)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(
                "__pycache__", ".hypothesis", ".pytest_cache"))
        else:
            shutil.copyfile(source, target)
    return root


def _environment(root) -> dict:
    # The scratch copy comes first on the path, ahead of the editable install of the repo.
    return {**os.environ, "PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def _pytest(root, tests, timeout, stop_first=True) -> tuple[int, str, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
               f"--timeout={timeout}", *(["-x"] if stop_first else []), *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=root, env=_environment(root), capture_output=True,
                              text=True, timeout=timeout * max(1, len(tests)) + 120)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = -1, "timed out"
    return code, output, time.perf_counter() - start


def _first_failure(output) -> str:
    found = re.search(r"^FAILED (\S+)", output, re.M)
    return found.group(1) if found else ""


def _verify_scratch(root):
    done = subprocess.run([sys.executable, "-c", "import tfbert; print(tfbert.__file__)"],
                          cwd=root, env=_environment(root), capture_output=True, text=True)
    if not done.stdout.strip().startswith(root):
        raise SystemExit(f"the scratch copy does not import its own tfbert: {done.stdout}"
                         f"{done.stderr[-500:]}")


def run_mutation(root, mutation, timeout) -> dict:
    path = os.path.join(root, mutation.file)
    with open(path, encoding="utf-8") as f:
        original = f.read()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(mutated_source(original, mutation))
        code, output, seconds = _pytest(root, list(mutation.tests), timeout)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
    verdict = {0: "survived", 1: "caught"}.get(code, "broken")
    return {"name": mutation.name, "file": mutation.file, "function": mutation.function,
            "verdict": verdict, "caught_by": _first_failure(output) if code == 1 else "",
            "tests": list(mutation.tests), "seconds": round(seconds, 1),
            "tail": "" if code == 1 else output[-1500:]}


def report(results, seconds) -> str:
    caught = sum(r["verdict"] == "caught" for r in results)
    lines = [f"{'mutation':<44} {'verdict':<9} {'s':>6}  test that failed (or tests run)"]
    for r in results:
        shown = r["caught_by"] or ", ".join(r["tests"])
        lines.append(f"{r['name']:<44} {r['verdict']:<9} {r['seconds']:>6.1f}  {shown}")
    lines.append(f"suite time {seconds / 60:.1f} min")
    lines.append(f"{caught}/{len(results)} planted bugs caught")
    return "\n".join(lines)


def main(argv=None) -> int:
    from tools.mutation_list import MUTATIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[],
                        help="run the mutations whose name contains this (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the list and stop")
    parser.add_argument("--jobs", type=int, default=2,
                        help="mutations run at once, each in its own scratch copy (default 2)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per test")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or any(o in m.name for o in args.only)]
    if not chosen:
        parser.error(f"--only {args.only}: matches no mutation")
    problems = check_list(chosen)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.name:<44} {m.file}:{m.function}\n    {m.why}\n    tests: "
                  f"{', '.join(m.tests)}")
        print(f"{len(chosen)} mutations")
        return 0
    start = time.perf_counter()
    parent = tempfile.mkdtemp(prefix="tfbert-mutations-")
    try:
        roots = [_scratch(parent) for _ in range(max(1, args.jobs))]
        _verify_scratch(roots[0])
        tests = sorted({t for m in chosen for t in m.tests})
        print(f"baseline: {len(tests)} tests, unmutated", flush=True)
        code, output, seconds = _pytest(roots[0], tests, args.timeout, stop_first=False)
        if code != 0:
            print(output[-4000:], file=sys.stderr)
            print(f"the tests fail without any mutation ({seconds:.0f} s): fix them first",
                  file=sys.stderr)
            return 2
        print(f"baseline passed in {seconds:.0f} s", flush=True)
        free = queue.Queue()
        for root in roots:
            free.put(root)

        def plant(mutation):
            root = free.get()   # a scratch copy no other mutation is using
            try:
                result = run_mutation(root, mutation, args.timeout)
            finally:
                free.put(root)
            print(f"  {result['name']}: {result['verdict']} ({result['seconds']:.0f} s)",
                  flush=True)
            return result

        with concurrent.futures.ThreadPoolExecutor(len(roots)) as pool:
            results = list(pool.map(plant, chosen))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    seconds = time.perf_counter() - start
    for r in results:
        if r["verdict"] != "caught":
            print(f"--- {r['name']} ({r['verdict']}):\n{r['tail']}", file=sys.stderr)
    print(report(results, seconds))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"seconds": round(seconds, 1), "results": results}, f, indent=2)
    return 0 if all(r["verdict"] == "caught" for r in results) else 1


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    sys.exit(main())
