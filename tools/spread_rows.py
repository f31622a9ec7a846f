"""N rows spread evenly over a file: row `i * rows // N` for i in 0..N-1, in file order.

The built-in datasets' files are sorted by label, so their first N rows would hold one
class; these keep every class in its share. For runs on a slice of a split:

    python tools/spread_rows.py FILE N > OUT
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a text file, one row per line (JSON lines, CSV, ...)")
    parser.add_argument("count", type=int, help="how many rows to keep (> 0)")
    args = parser.parse_args(argv)
    if args.count <= 0:
        parser.error(f"count must be positive. Received: {args.count}")
    from tfbert.data.splits import spread

    with open(args.file, encoding="utf-8") as f:
        rows = [line for line in f if line.strip()]
    sys.stdout.writelines(spread(rows, args.count))


if __name__ == "__main__":
    main()
