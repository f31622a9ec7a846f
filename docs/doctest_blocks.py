"""A griffe extension for the API reference (mkdocs.yml loads it; not part of tfbert).

tfbert's docstrings give examples as doctest lines (`>>> x`) in running text, as keras-hub's
do. Markdown would read `>>>` as three nested quotes, so each run of doctest lines (the
`>>>` and `...` lines and the output lines after them, up to a blank line) is fenced as a
```pycon block before mkdocstrings renders the docstring.
"""

from __future__ import annotations

import re

import griffe

PROMPT = re.compile(r"^(\s*)>>> ?")
FLAGS = re.compile(r"\s*# doctest:.*$")  # `# doctest: +SKIP` is for the doctest runner


def fence_doctests(text: str) -> str:
    lines, out, index = text.split("\n"), [], 0
    while index < len(lines):
        match = PROMPT.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        indent = match.group(1)
        block = []
        while index < len(lines) and lines[index].strip():
            line = lines[index][len(indent):] if lines[index].startswith(indent) \
                else lines[index].strip()
            block.append(FLAGS.sub("", line))
            index += 1
        if out and out[-1].strip():
            out.append("")
        out.extend([f"{indent}```pycon", *(indent + line for line in block), f"{indent}```"])
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
