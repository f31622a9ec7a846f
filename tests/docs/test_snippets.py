"""Every Python and shell block of README.md and docs/*.md runs, so no example can drift.

How a page runs (one test per page, its id the page's name:
`pytest tests/docs/test_snippets.py -k training`):

- Fenced blocks are read in page order. ```python blocks and ```bash / ```sh / ```shell /
  ```console blocks are executed (in ```console blocks only the `$ ` lines); any other
  language (```text for transcripts and outputs, ```json, ```mermaid) is not. A fence with
  no language fails `test_every_block_names_its_language`, so a transcript cannot be left
  unmarked by accident.
- The blocks of one page run in order in one fresh temporary directory, with the
  repository's `.venv/bin` first on PATH, so a later block uses the files an earlier one
  wrote, as a reader following the page would.
- Shell blocks run each in `bash -e -o pipefail`. Their `tfbert` is the warm one of
  `zygote.py` (TensorFlow imported once per test process, a forked child per command);
  `TFBERT_DOCS_ZYGOTE=0` runs the real console script instead. Python blocks run in one Python process
  per page, all in one namespace (a block may use names an earlier block of the page
  defined, as in a notebook), started at the page's first Python block.
- Before a block runs, SUBSTITUTIONS rewrite commands that take too long for a test into
  tiny equivalents that exercise the same flags (the built-in datasets cut to a slice right
  after `tfbert datasets export`, 2 optimizer steps per training run, a stand-in for the
  English demo's model), and a block holding a SKIPS entry's substring is not run at all
  (only what cannot run here: docker, several hosts, a TPU, installing from the network).
  Both tables are below, each entry with its reason; `test_tables_are_used` fails on an
  entry that no block matches any more.

A failure names the page, the block's line, the code as run and the tail of its output.
The slow pages (SLOW) are in the slow tier; all pages together take 10-15 minutes on 2
cores with `-n 2`, the default tier about a minute.
"""

import dataclasses
import json
import os
import re
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
HERE = os.path.dirname(os.path.abspath(__file__))
SLICER = os.path.join(HERE, "slice_dataset.py")

SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py", "python3"}

# (page, pattern, replacement, reason): `re.sub` on a block before it runs; page None: every
# page. A replacement may name {repo} and {slicer}.
SUBSTITUTIONS = [
    (None, r"tfbert datasets export (\S+) (\S+)",
     r"tfbert datasets export \1 \2; python {slicer} \2",
     "the real export runs; its splits are then cut to 128/32/32 rows (corpora to 200 "
     "documents), so every command after it runs in seconds (slice_dataset.py)"),
    (None, r"tfbert (finetune|pretrain|distill) ", r"tfbert \1 --max-steps 2 ",
     "every training run stops after 2 optimizer steps (it still checkpoints, scores dev "
     "and writes its model directory); --max-steps overrides --epochs"),
    (None, r"--max-steps \d+", "--max-steps 2",
     "the same for runs that set --max-steps themselves (click takes the last value)"),
    ("results", r'--init "\$M"', '--preset tiny --vocab "$M/vocab.txt"',
     "results' many MiniLM-L6 runs and exports would take 10 minutes; a tiny preset with "
     "MiniLM's vocabulary runs the same commands (training.md and checkpoints.md run the "
     "real checkpoint)"),
    ("distillation", r"--init all-MiniLM-L6-v2",
     '--preset tiny --vocab "$(python -c "import tfbert;print(tfbert.checkpoint_path('
     "'all-MiniLM-L6-v2'))\")/vocab.txt\"",
     "fine-tuning MiniLM-L6 at length 512, even for 2 steps, and distilling from it take "
     "minutes; a tiny preset with MiniLM's vocabulary is the teacher"),
    (None, r"python tools/bench_students.py",
     "python {repo}/tools/bench_students.py --rounds 1 --calls 2",
     "the blocks run in a temporary directory (a reader runs tools/ from the repository "
     "root); one timing round of two calls is enough to check the table is written"),
    ("results", r"python tools/pd98_person_qa.py (\S+)",
     r"python {repo}/tools/pd98_person_qa.py \1 --limit 64",
     "the QA data comes from the whole pd98 corpus, not a sliced export: 64 questions per "
     "split keep the 2-step run and its evaluation to seconds"),
    ("results", r"for d in 1\.0 0\.9 0\.8; do for seed in 1 2; do",
     "for d in 0.8; do for seed in 1; do",
     "the layer-decay table's six runs are one command with other values: one of them runs"),
    ("applications", r"runs/demo/pretrain-data --vocab runs/demo/vocab.txt",
     "data/zh-128 --vocab data/vocab.txt",
     "the longer pre-training starts from the demo's data; the page's own data stands in"),
    ("applications", r"python tools/eval_rescoring.py --limit",
     "python tools/eval_rescoring.py --model zh-lm --limit",
     "the figures' first run scores the demo's pre-trained model; the page's own stands in"),
    ("applications", r"--limit 300 --tune-limit 100", "--limit 6 --tune-limit 4",
     "the figures score 2,000 lists (minutes); 6 test and 4 dev lists run the same code"),
    ("applications", r"python tools/eval_summarization.py",
     "python tools/eval_summarization.py --limit 3",
     "the table's run summarises 222 articles six times (minutes); 3 articles check that "
     "the command runs and writes its JSON"),
    (None, r"python tools/(?!bench_students)", "python {repo}/tools/",
     "the blocks run in a temporary directory; a reader runs tools/ from the repository "
     "root"),
    (None, r"make demo-english", "bash {repo}/tests/docs/demo_english_standin.sh",
     "the English demo takes ~13 min; the stand-in fine-tunes a tiny preset for 2 steps on "
     "sliced bbc-news into the same runs/demo-en layout (model/, data/bbc-news/)"),
    (None, r"make (demo|test)\b(?!-)", r"make -n -C {repo} \1",
     "a dry run checks that the target exists: tests/demo/ runs `tfbert demo` end to end "
     "with a few steps (slow tier), and the test suite cannot run inside itself"),
]

# (page, substring, reason): a block holding the substring is not run. Only what cannot
# run on a test machine.
SKIPS = [
    ("README", "pip install", "installs from the network into a new virtual environment "
     "(make test builds the same .venv the other pages run in)"),
    ("serving", "docker run", "needs docker and the tensorflow/serving image (no network)"),
    ("training", "TF_CONFIG=", "needs two hosts"),
    ("training", "TPU_NAME=", "needs a Cloud TPU"),
    ("training", "KERAS_DISTRIBUTION_JOB_ADDRESSES=", "needs two hosts"),
    ("scale", "--runner dataflow", "needs a Google Cloud project, a bucket and a worker "
     "container"),
    ("scale", "--runner flink", "needs a Flink cluster (and Beam's Java job server)"),
    ("scale", "--runner spark", "needs a Spark cluster (and Beam's Java job server)"),
]

# Pages whose blocks took more than about a minute before the warm tfbert (seconds on 2
# cores with `-n 2`, measured with it, 2026-12-07): run first, longest first, so that two
# test workers finish together; in the slow tier.
SLOW = {"results": 635, "training": 215, "distillation": 140, "applications": 135,
        "python-api": 115, "README": 80, "on-device": 40, "serving": 25}


@dataclasses.dataclass
class Block:
    page: str
    line: int         # the fence's line in the page, 1-based
    language: str
    code: str


def pages():
    names = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(
        os.path.join(REPO, "docs")) if f.endswith(".md"))
    return sorted(names, key=lambda name: -SLOW.get(page_id(name), 0))


def page_id(path):
    return os.path.splitext(os.path.basename(path))[0]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")


def read_blocks(path):
    """Every fenced block of the Markdown file at `path` (relative to the repository)."""
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, language = match.groups()
        start, body = index, []
        index += 1
        while index < len(lines) and not (lines[index].strip().startswith(fence)
                                          and lines[index].strip().strip(fence[0]) == ""):
            body.append(lines[index][len(indent):] if lines[index].startswith(indent)
                        else lines[index])
            index += 1
        index += 1
        blocks.append(Block(page_id(path), start + 1, language.lower(), "\n".join(body) + "\n"))
    return blocks


def console_commands(code):
    """The commands of a ```console block: `$ ` lines and their `\\` continuations."""
    commands, continued = [], False
    for line in code.splitlines():
        if line.startswith("$ ") or continued:
            commands.append(line[2:] if line.startswith("$ ") and not continued else line)
            continued = line.endswith("\\")
    return "\n".join(commands) + "\n"


def prepared(block):
    """The code that runs for `block` (substitutions applied), or None with the skip reason."""
    for page, substring, reason in SKIPS:
        if page == block.page and substring in block.code:
            return None, reason
    code = console_commands(block.code) if block.language == "console" else block.code
    for page, pattern, replacement, _ in SUBSTITUTIONS:
        if page in (None, block.page):
            code = re.sub(pattern, replacement.format(repo=REPO, slicer=SLICER),
                          code)
    return code, None


_ZYGOTE = []


def warm_tfbert(env):
    """The directory of the warm `tfbert` (`zygote.py`), started once per test process;
    None with TFBERT_DOCS_ZYGOTE=0 (every command then starts a fresh interpreter)."""
    if os.environ.get("TFBERT_DOCS_ZYGOTE") == "0":
        return None
    if not _ZYGOTE:
        import atexit

        from tests.docs.zygote import Zygote

        _ZYGOTE.append(Zygote(os.path.join(VENV_BIN, "python"),
                              os.path.join(VENV_BIN, "tfbert"), env))
        atexit.register(_ZYGOTE[0].close)
    return _ZYGOTE[0].bin


def environment():
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.update(TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow", MPLBACKEND="Agg",
               PYTHONUNBUFFERED="1", PYTHONHASHSEED="0")
    env.pop("VIRTUAL_ENV", None)
    return env


def tail(path, limit=6000):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return text[-limit:]


class PythonSession:
    """The page's Python process (see the module docstring)."""

    def __init__(self, cwd, env, log):
        self.cwd, self.log = cwd, log
        self.output = open(log, "a", encoding="utf-8")
        self.process = subprocess.Popen(
            [os.path.join(VENV_BIN, "python"), os.path.join(HERE, "python_session.py")],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=self.output,
            stderr=subprocess.STDOUT, text=True)
        self.count = 0

    def run(self, code, origin, timeout):
        self.count += 1
        status = os.path.join(self.cwd, f".snippet-status-{self.count}")
        self.process.stdin.write(json.dumps({"code": code, "origin": origin,
                                             "status": status}) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while not os.path.exists(status):
            if self.process.poll() is not None:
                return f"the Python process ended (exit code {self.process.returncode})"
            if time.monotonic() > deadline:
                return f"timed out after {timeout} s"
            time.sleep(0.05)
        time.sleep(0.05)
        with open(status, encoding="utf-8") as f:
            result = f.read()
        os.remove(status)
        return None if result == "ok" else "raised (the traceback is in the output below)"

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.output.close()


def run_page(path, workdir, timeout=900):
    """Runs the page's blocks in `workdir`; returns (ran, skipped) lists of blocks."""
    env = environment()
    warm = warm_tfbert(env)
    if warm:
        env["PATH"] = warm + os.pathsep + env["PATH"]
    log = os.path.join(str(workdir), ".snippet-output.log")
    session, ran, skipped = None, [], []
    try:
        for block in read_blocks(path):
            if block.language not in SHELL | PYTHON:
                continue
            code, reason = prepared(block)
            if code is None:
                skipped.append((block, reason))
                continue
            origin = f"{path}:{block.line}"
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"\n===== {origin} ({block.language})\n")
            started = time.monotonic()
            if block.language in PYTHON:
                session = session or PythonSession(str(workdir), env, log)
                failure = session.run(code, origin, timeout)
            else:
                with open(log, "a", encoding="utf-8") as output:
                    try:
                        completed = subprocess.run(
                            ["bash", "-e", "-o", "pipefail", "-c", code], cwd=workdir,
                            env=env, stdout=output, stderr=subprocess.STDOUT, timeout=timeout)
                        failure = completed.returncode and f"exit code {completed.returncode}"
                    except subprocess.TimeoutExpired:
                        failure = f"timed out after {timeout} s"
            ran.append((block, time.monotonic() - started))
            if failure:
                pytest.fail(f"{origin}: the {block.language} block {failure}.\n"
                            f"--- as run:\n{code}--- output (tail):\n{tail(log)}",
                            pytrace=False)
    finally:
        if session:
            session.close()
    return ran, skipped


# The longest pages run from test_snippets_heavy.py: `make test` hands out whole files to
# its two workers (--dist loadfile), so the pages are split into two files of similar time.
HEAVY = ("results", "python-api", "README")


def params(heavy=False):
    return [pytest.param(path, id=page_id(path),
                         marks=[pytest.mark.slow] if page_id(path) in SLOW else [])
            for path in pages() if (page_id(path) in HEAVY) == heavy]


@pytest.mark.timeout(1800)  # the longest page takes 5-8 minutes; `make test` allows 900 s
@pytest.mark.parametrize("path", params())
def test_page_snippets_run(path, tmp_path):
    check_page(path, tmp_path)


def check_page(path, tmp_path):
    """Runs the page's blocks (`run_page`) and prints what ran and what was skipped."""
    ran, skipped = run_page(path, tmp_path)
    for block, seconds in ran:
        print(f"{path}:{block.line} {block.language} {seconds:.1f} s")
    for block, reason in skipped:
        print(f"{path}:{block.line} skipped: {reason}")


@pytest.mark.parametrize("path", [pytest.param(p, id=page_id(p)) for p in pages()])
def test_every_block_names_its_language(path):
    bare = [block.line for block in read_blocks(path) if not block.language]
    assert not bare, (f"{path}: fenced blocks without a language at lines {bare}; mark "
                      "transcripts and outputs ```text, commands ```bash, code ```python")


def test_tables_are_used():
    blocks = [b for path in pages() for b in read_blocks(path) if b.language in SHELL | PYTHON]
    for page, pattern, _, _ in SUBSTITUTIONS:
        assert any(re.search(pattern, b.code) for b in blocks if page in (None, b.page)), \
            f"substitution {pattern!r} matches no block any more; remove it"
    for page, substring, _ in SKIPS:
        assert any(substring in b.code for b in blocks if b.page == page), \
            f"skip {substring!r} ({page}) matches no block any more; remove it"
