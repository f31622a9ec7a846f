"""A warm `tfbert` for the documentation tests: one server process per test worker imports
TensorFlow, tf-text, Keras and every tfbert command once, then forks a fresh child for each
`tfbert ...` a page's shell block runs. The child is the command: it takes the caller's
working directory, environment, stdin, stdout and stderr (passed as file descriptors over a
Unix socket), runs the same `tfbert.cli.main.cli` the console script runs, and its exit code
becomes the caller's. A page runs ~10-45 commands; each would otherwise spend several
seconds importing TensorFlow.

A fork starts from the state just after those imports (no op has run, one thread, no Keras
session), so commands do not see each other. Whatever could differ from a fresh process
is sent to the real `tfbert` instead: an environment whose `KERAS_*`, `TF_*`, `XLA_*`,
`JAX_*`, `CUDA*`, `PYTHON*` or `LD_*` variables differ from the server's (they are read at
import time), and `--debug` (it shows TensorFlow's start-up notes, which the server held
back). `tests/cli/test_startup.py` runs the real console script.

    python zygote.py serve SOCKET      # the server (started by `Zygote`)
    <shim dir>/tfbert ARGS...          # the client, first on PATH for a page's blocks
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Read at import time by TensorFlow, Keras, JAX or Python itself.
FIXED_AT_IMPORT = ("KERAS_", "TF_", "XLA_", "JAX_", "CUDA", "PYTHON", "LD_")


def _fixed(env) -> dict:
    return {k: v for k, v in env.items() if k.startswith(FIXED_AT_IMPORT)}


# --- client ------------------------------------------------------------------------------

def client(path, real_tfbert):
    """Runs `tfbert sys.argv[1:]` in a child of the server at `path` (the real binary when
    the server is not there or cannot run it as a fresh process would)."""
    argv = sys.argv[1:]
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    with open(path + ".env", encoding="utf-8") as f:
        served = json.load(f)
    if "--debug" in argv or _fixed(os.environ) != served:
        os.execv(real_tfbert, [real_tfbert, *argv])
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        os.execv(real_tfbert, [real_tfbert, *argv])
    payload = json.dumps(request).encode("utf-8")
    socket.send_fds(conn, [struct.pack("!Q", len(payload))], [0, 1, 2])
    conn.sendall(payload)
    child = struct.unpack("!q", _read(conn, 8))[0]

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = _read(conn, 4)
    if len(status) < 4:
        sys.stderr.write("tfbert (docs test zygote): the command's process died\n")
        sys.exit(1)
    sys.exit(struct.unpack("!i", status)[0])


def _read(conn, size) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            break
        data += part
    return data


# --- server ------------------------------------------------------------------------------

def serve(path):
    # As started: importing may set some (cv2 sets LD_LIBRARY_PATH for itself).
    started_with = _fixed(os.environ)
    from tfbert.quiet import import_tensorflow

    import_tensorflow()
    import keras  # noqa: F401
    import tfbert.cli.main as main

    for name in main.COMMANDS:   # every command's module and what it imports at the top
        main.cli.get_command(None, name)
    with open(path + ".env.tmp", "w", encoding="utf-8") as f:
        json.dump(started_with, f)
    os.replace(path + ".env.tmp", path + ".env")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(1.0)
    sys.stdout.flush()
    sys.stderr.flush()
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:   # reap finished commands
                pass
        except ChildProcessError:
            pass
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            if os.getppid() == 1:   # the test process is gone
                return
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            listener.close()
            _run(conn, main.cli)
        conn.close()


def _run(conn, cli):
    """In the forked child: becomes the command and never returns."""
    code = 1
    try:
        header, fds, _, _ = socket.recv_fds(conn, 8, 3)
        request = json.loads(_read(conn, struct.unpack("!Q", header)[0]))
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        conn.sendall(struct.pack("!q", os.getpid()))
        sys.argv = ["tfbert", *request["argv"]]
        try:
            cli.main(args=request["argv"], prog_name="tfbert")
            code = 0
        except SystemExit as done:
            if isinstance(done.code, str):
                sys.stderr.write(done.code + "\n")
                code = 1
            else:
                code = done.code or 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:   # a closed pipe on the caller's side
                pass
        try:
            conn.sendall(struct.pack("!i", code))
        except OSError:
            pass
        os._exit(code)


# --- the test side -----------------------------------------------------------------------

class Zygote:
    """The server, started with `env` (the page environment), and a directory holding the
    `tfbert` client to put first on PATH."""

    def __init__(self, python, real_tfbert, env, timeout=300):
        self.root = tempfile.mkdtemp(prefix="tfbert-zygote-")
        self.socket = os.path.join(self.root, "socket")
        self.bin = os.path.join(self.root, "bin")
        os.makedirs(self.bin)
        shim = os.path.join(self.bin, "tfbert")
        with open(shim, "w", encoding="utf-8") as f:
            f.write(f"#!{python} -S\nimport sys\nsys.path.insert(0, {HERE!r})\n"
                    f"import zygote\nzygote.client({self.socket!r}, {real_tfbert!r})\n")
        os.chmod(shim, 0o755)
        self.log = open(os.path.join(self.root, "server.log"), "w", encoding="utf-8")
        self.process = subprocess.Popen([python, os.path.abspath(__file__), "serve",
                                         self.socket], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the docs test zygote did not start; see {self.log.name}")
            time.sleep(0.1)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) != 3:
        sys.exit("usage: zygote.py serve SOCKET")
    serve(sys.argv[2])
