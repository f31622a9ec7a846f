"""The longest pages of the snippet suite (test_snippets.py's HEAVY), in a file of their own so
that `make test`'s two workers, which take whole files (--dist loadfile), share the pages."""

import pytest

from test_snippets import params, run_page


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", params(heavy=True))
def test_page_snippets_run(path, tmp_path):
    ran, skipped = run_page(path, tmp_path)
    for block, seconds in ran:
        print(f"{path}:{block.line} {block.language} {seconds:.1f} s")
    for block, reason in skipped:
        print(f"{path}:{block.line} skipped: {reason}")
