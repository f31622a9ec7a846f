"""tools/pretrain_steps.py: which directory each step count runs in (the demo's own for its
step count and the 0-step row, reused there), and the table it prints."""

import tfbert.demo
from tools import pretrain_steps


class FakeDemo:
    """Records `(steps, directory, stages)`; every stage's facts made up from the steps."""

    calls = []

    def __init__(self, recipe, out_dir, echo):
        self.recipe, self.out_dir = recipe, out_dir

    def run_stages(self, names):
        FakeDemo.calls.append((self.recipe.pretrain_steps, self.out_dir, list(names)))
        steps = self.recipe.pretrain_steps
        return {"pretrain": {"tokens": 2900 * steps, "dev_mlm_accuracy": steps / 1e4,
                             "seconds": steps / 4},
                "evaluate": {"accuracy": 0.7 + steps / 1e5, "macro_f1": 0.69},
                "random-init": {"accuracy": 0.625, "macro_f1": 0.5}}


def test_each_step_count_runs_where_it_belongs_and_the_table_has_its_rows(monkeypatch):
    FakeDemo.calls = []
    monkeypatch.setattr(tfbert.demo, "Demo", FakeDemo)
    rows = pretrain_steps.run([4000, 0, 250, 1000], "runs/steps", "runs/demo")
    assert [(s, d) for s, d, _ in FakeDemo.calls] == [
        (1000, "runs/demo"), (250, "runs/steps/250"), (1000, "runs/demo"),
        (4000, "runs/steps/4000")]
    assert FakeDemo.calls[0][2][-1] == "random-init"
    assert all(stages[-1] == "evaluate" for _, _, stages in FakeDemo.calls[1:])
    assert [row["steps"] for row in rows] == [0, 250, 1000, 4000]
    assert rows[0] == {"steps": 0, "tokens": 0, "dev_mlm_accuracy": None, "accuracy": 62.5,
                       "macro_f1": 50.0, "pretrain_seconds": 0.0}
    lines = pretrain_steps.table(rows).splitlines()
    assert lines[2] == "| 0 | 0.0M | — | 62.50 % | 50.00 % | 0 s |"
    assert lines[5] == "| 4,000 | 11.6M | 40.0 % | 74.00 % | 69.00 % | 1000 s |"
