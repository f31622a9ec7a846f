"""Pseudo-log-likelihood against Hugging Face transformers: the tiny masked-LM written out
as a Hugging Face checkpoint (`tfbert convert --to hf`) is scored by `SentenceScorer` from
that directory and, independently, by transformers' `BertForMaskedLM` with its own
tokenizer, one masked copy per token (Salazar et al.'s recipe, as the `mlm-scoring` users
compute it). Slow tier: it imports torch."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tfbert  # noqa: E402
from tfbert.convert import convert  # noqa: E402

TEXTS = ["我爱北京天安门", "the cat sat on the mat.", "dogs running on a mat"]


@pytest.mark.slow
def test_pll_equals_transformers_masked_lm(lm_dir, tmp_path):
    hf_dir = str(tmp_path / "hf")
    convert(lm_dir, hf_dir, to="hf")
    ours = tfbert.SentenceScorer.from_pretrained(hf_dir)(TEXTS, per_token=True)
    tokenizer = transformers.BertTokenizerFast.from_pretrained(hf_dir)
    model = transformers.BertForMaskedLM.from_pretrained(hf_dir).eval()
    for text, answer in zip(TEXTS, ours):
        ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
        n = len(ids) - 2
        copies = ids.repeat(n, 1)
        positions = torch.arange(1, n + 1)
        copies[torch.arange(n), positions] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=copies).logits[torch.arange(n), positions]
        expected = torch.log_softmax(logits.double(), -1)[torch.arange(n), ids[1:-1]]
        assert [t["token"] for t in answer["tokens"]] == tokenizer.convert_ids_to_tokens(
            ids[1:-1])
        assert answer["pll"] == pytest.approx(float(expected.sum()), abs=2e-4)
        assert [t["score"] for t in answer["tokens"]] == pytest.approx(expected.tolist(),
                                                                       abs=2e-5)
