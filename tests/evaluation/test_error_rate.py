"""Error rate against hand-counted edits."""

import pytest

from tfbert.evaluation.error_rate import edit_distance, error_rate, units


def test_units_are_cjk_characters_and_words():
    assert units("我爱 NLP! ok") == ["我", "爱", "NLP!", "ok"]
    assert units("  ") == []


def test_edit_distance_counts_each_kind_of_edit():
    assert edit_distance("kitten", "sitting") == 3          # 2 substitutions, 1 insertion
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance(list("天安门"), list("天门安")) == 2  # a swap is two edits
    assert edit_distance(list("abc"), list("abc")) == 0


def test_error_rate_is_summed_edits_over_summed_reference_length():
    # 1 edit of 4 words, 2 of 3 characters: 3 / 7.
    assert error_rate(["the cat sat down", "天门安"],
                      ["the cat sat up", "天安门"]) == pytest.approx(3 / 7)
    assert error_rate([""], [""]) == 0.0
    # Over the reference's length, not the hypothesis's: 2 deletions of 4 words.
    assert error_rate(["a b"], ["a b c d"]) == pytest.approx(2 / 4)
