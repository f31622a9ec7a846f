"""One Python process for the Python blocks of one documentation page (run by
`test_snippets.py`, not collected by pytest).

Each line on stdin is a JSON request `{"code", "origin", "status"}`: the code is executed
in the page's one namespace, so a block can use what an earlier block of the same page
defined; its traceback, if any, goes to stderr, and "ok" or "error" is written to the file
named by `status` once the block is done.
"""

import json
import sys
import traceback


def main():
    namespace = {"__name__": "__main__"}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            exec(compile(request["code"], request["origin"], "exec"), namespace)
            status = "ok"
        except BaseException:  # noqa: BLE001  (SystemExit and KeyboardInterrupt included)
            traceback.print_exc()
            status = "error"
        sys.stdout.flush()
        sys.stderr.flush()
        with open(request["status"], "w", encoding="utf-8") as f:
            f.write(status)


if __name__ == "__main__":
    main()
