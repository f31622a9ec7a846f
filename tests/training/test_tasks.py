import numpy as np

from tfbert.training.tasks import TaskData, epoch_datasets


def make_data(n=200, full=64, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, full + 1, size=n)
    mask = (np.arange(full)[None] < lengths[:, None]).astype("int32")
    ids = (np.arange(n)[:, None] + 1) * mask        # row r holds r + 1: traceable
    inputs = {"token_ids": ids.astype("int32"), "segment_ids": np.zeros_like(ids),
              "padding_mask": mask}
    targets = {"labels": np.where(mask > 0, 1, -1).astype("int32")}   # per-token (NER-like)
    return TaskData("x", inputs, targets, [], {}), lengths


def test_batches_are_grouped_by_length_cut_and_cover_the_epoch():
    data, lengths = make_data()
    make = epoch_datasets(data, seed=5, group=5)
    seen, widths, spreads = [], [], []
    for inputs, targets in make(0, 8):
        width = inputs["token_ids"].shape[1]
        rows = inputs["token_ids"][:, 0].numpy() - 1
        longest = lengths[rows].max()
        assert width % 16 == 0 and longest <= width < longest + 16
        assert targets["labels"].shape == (8, width)
        # Cutting dropped only padding.
        assert inputs["padding_mask"].numpy().sum() == lengths[rows].sum()
        seen += rows.tolist()
        widths.append(width)
        spreads.append(np.ptp(lengths[rows]))
    assert len(seen) == len(set(seen)) == 200            # 25 full batches, no repeats
    assert len(set(widths)) > 1                           # not all padded to 64
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.arange(200).reshape(-1, 8)])
    assert np.mean(spreads) < random_spread / 2            # batches hold similar lengths
    again = [b[0]["token_ids"][:, 0].numpy().tolist() for b in make(0, 8)]
    other = [b[0]["token_ids"][:, 0].numpy().tolist() for b in make(1, 8)]
    assert again == (np.array(seen).reshape(-1, 8) + 1).tolist()   # same epoch, same order
    assert other != again                                  # a new order each epoch
