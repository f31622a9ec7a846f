"""Cut a directory written by `tfbert datasets export` down to a slice, in place (run by the
snippet tests after each export, see SUBSTITUTIONS in `test_snippets.py`).

`python slice_dataset.py DIR`: `.jsonl` splits keep 128 train / 32 dev / 32 test rows spread
evenly over the file (the files are sorted by label, so every label stays in), `.conll`
splits the first 128 / 32 / 32 sentences, `corpus.txt` its first 200 documents. The README
and its checksums are left as exported.
"""

import os
import sys

from tfbert.data.splits import spread

ROWS = {"train": 128, "dev": 32, "test": 32}
DOCUMENTS = 200


def slice_directory(directory):
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        stem, ext = os.path.splitext(name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if ext == ".jsonl" and stem in ROWS:
            lines = [line for line in text.splitlines() if line.strip()]
            kept = "".join(line + "\n" for line in spread(lines, ROWS[stem]))
        elif ext == ".conll" and stem in ROWS:
            sentences = [s for s in text.split("\n\n") if s.strip()]
            kept = "".join(s.strip("\n") + "\n\n" for s in sentences[:ROWS[stem]])
        elif name == "corpus.txt":
            documents = [d for d in text.split("\n\n") if d.strip()]
            kept = "".join(d.strip("\n") + "\n\n" for d in documents[:DOCUMENTS])
        else:
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(kept)


if __name__ == "__main__":
    slice_directory(sys.argv[1])
