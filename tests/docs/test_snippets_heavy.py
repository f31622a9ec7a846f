"""The longest pages of the snippet suite (test_snippets.py's HEAVY), in a file of their own so
that `make test`'s two workers, which take whole files (--dist loadfile), share the pages."""

import pytest

from test_snippets import check_page, params


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", params(heavy=True))
def test_page_snippets_run(path, tmp_path):
    check_page(path, tmp_path)
