"""`tfbert demo`: the whole product on built-in data, one stage after another.

Chinese (default): built-in `zh-corpus` → WordPiece vocabulary → pre-training data (and
held-out dev documents) → a tiny BERT pre-trained briefly, its dev curve drawn →
`chnsenti` fine-tuning → test report and plots → the same encoder fine-tuned from random
weights, and the TF-IDF anchor, for comparison → the model's attention drawn → a TF
Serving SavedModel and an int8 TFLite file with MediaPipe metadata → the same sentences
classified by all three, with one table of size, latency and accuracy and one of what
pre-training bought. English: the real MiniLM-L6 checkpoint fine-tuned on `bbc-news`, then
the same from the evaluation on.
Every stage is recorded in `OUT/demo.json`; a re-run reuses the finished ones.
"""

from __future__ import annotations

import os
import time

from tfbert.demo.paths import Paths, minilm_path
from tfbert.demo.recipes import Recipe
from tfbert.demo.stages import StageLog


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
                ("pretrain-data", f"make pre-training data ({r.pretrain_seq_len} tokens), "
                 f"{r.pretrain_dev_share:.0%} of the documents held out as dev",
                 r.stage_settings("pretrain_seq_len", "pretrain_dev_share", "seed"),
                 [p.pretrain_corpus, p.pretrain_data, p.pretrain_dev], self._pretrain_data),
                ("pretrain", f"pre-train a {r.preset} BERT for {r.pretrain_steps} steps",
                 r.stage_settings("preset", "pretrain_steps", "pretrain_batch",
                                  "pretrain_learning_rate", "pretrain_evaluations",
                                  "pretrain_dev_batches", "seed"), [p.pretrained],
                 self._pretrain)]
        start = "the pre-trained model" if r.corpus else "the real MiniLM-L6 checkpoint"
        stages += [
            ("finetune", f"fine-tune {start} on {r.dataset}",
             r.stage_settings("max_length", "epochs", "finetune_steps", "batch_size",
                              "learning_rate", "seed"), [p.model], self._finetune),
            ("evaluate", f"evaluate on the {r.dataset} test split", {}, [p.report],
             self._evaluate),
            # What pre-training bought (the same encoder from random weights, the classical
            # anchor), and what the model attends to.
            ("random-init", "fine-tune the same encoder from random weights (no "
                            "pre-training; same steps and settings), and evaluate it",
             r.stage_settings("max_length", "epochs", "finetune_steps", "batch_size",
                              "learning_rate", "seed"), [p.model_random], self._random_init),
            ("anchor", f"fit the classical anchor, TF-IDF + a linear SVM, on {r.dataset}",
             r.stage_settings("anchor_analyzer", "anchor_ngrams"), [p.anchor], self._anchor),
            ("attention", f"draw the fine-tuned model's attention for {r.sentences[0]!r}",
             {"text": r.sentences[0]}, [p.attention], self._attention),
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
        for number, stage in enumerate(stages, 1):
            self._stage(number, count, stage)
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
                          student_saved_model=student, comparison=self._comparison())
        results["stages"] = {name: seconds for name, seconds in self.timings}
        results["seconds"] = round(time.perf_counter() - started, 1)
        write_results(results, self.paths.out)
        return results

    def run_stages(self, names) -> dict:
        """Runs (or reuses) only the stages `names`, in the demo's order (what
        `tools/pretrain_steps.py` needs of it); returns `{name: facts}`. A stage not named
        that is finished with its current key is passed through, so that the stages after
        it keep their keys; one that is not is left alone."""
        self._preflight()
        stages = self.stages()
        unknown = set(names) - {stage[0] for stage in stages}
        if unknown:
            raise ValueError(f"no demo stage {sorted(unknown)}; the stages are "
                             f"{[stage[0] for stage in stages]}")
        for number, stage in enumerate(stages, 1):
            if stage[0] in names:
                self._stage(number, len(stages) + 1, stage)
            else:
                self.log.pass_through(stage[0], stage[2], stage[3])
        return {name: self.log.facts(name) for name in names}

    def _stage(self, number, count, stage):
        name, title, settings, outputs, run = stage
        begun = time.perf_counter()
        if not self.log.begin(name, settings, outputs):
            shown = self.log.facts(name).get("path", outputs[0])
            self.echo(f"[{number}/{count}] {title}: done before, reusing {self._shown(shown)}")
            self.timings.append((name, None))
            return
        self.echo(f"[{number}/{count}] {title}")
        facts = run() or {}
        seconds = round(time.perf_counter() - begun, 1)
        self.log.finish(name, seconds=seconds, **facts)
        self.timings.append((name, seconds))
        self.echo(f"      {seconds:.0f} s; wrote {self._shown(facts.get('path', outputs[0]))}")

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
        from tfbert.demo.corpus import split_documents
        from tfbert.tokenization import BertTokenizer

        train, dev = split_documents(self.paths.corpus, self.paths.pretrain_corpus,
                                     self.recipe.pretrain_dev_share)
        tokenizer = BertTokenizer.from_file(self.paths.vocab)
        facts = {}
        for name, corpus, out in (("train", train, self.paths.pretrain_data),
                                  ("dev", dev, self.paths.pretrain_dev)):
            manifest = create_pretraining_data(
                [corpus], out, tokenizer, seq_len=self.recipe.pretrain_seq_len,
                seed=self.recipe.seed, echo=lambda line: self.echo(f"      {line}"))
            self.echo(f"      {name}: {manifest['instances']:,} instances from "
                      f"{manifest['documents']:,} documents")
            facts[f"{name}_instances"] = manifest["instances"]
        return facts

    def _pretrain(self):
        from tfbert.training.pretrain import PretrainJob, pretrain
        from tfbert.training.trainer import TrainSettings

        r = self.recipe
        settings = TrainSettings(batch_size=r.pretrain_batch, max_steps=r.pretrain_steps,
                                 learning_rate=r.pretrain_learning_rate, warmup_ratio=0.06,
                                 checkpoint_every=max(1, r.pretrain_steps // 5),
                                 eval_every=max(1, r.pretrain_steps // r.pretrain_evaluations),
                                 keep_checkpoints=1, seed=r.seed, log_every=10)
        result = pretrain(PretrainJob(
            data=self.paths.pretrain_data, out=self.paths.pretrained, vocab=self.paths.vocab,
            preset=r.preset, dev=self.paths.pretrain_dev, dev_batches=r.pretrain_dev_batches,
            settings=settings))
        from tfbert.demo.corpus import tokens_seen
        from tfbert.evaluation.plots import plot_pretraining_curve

        plot_pretraining_curve(result.history, self.paths.pretrain_curve)
        last = [row for row in result.history if "dev_mlm_accuracy" in row][-1]
        tokens = tokens_seen(self.paths.pretrain_data, r.pretrain_steps * r.pretrain_batch)
        self.echo(f"      {_count(tokens)} tokens seen; held-out masked-LM accuracy "
                  f"{100 * last['dev_mlm_accuracy']:.1f} %, loss {last['dev_mlm_loss']:.2f}; "
                  f"curve {self._shown(self.paths.pretrain_curve)}")
        return {"tokens": tokens, "dev_mlm_accuracy": last["dev_mlm_accuracy"],
                "dev_mlm_loss": last["dev_mlm_loss"]}

    def _finetune(self, out=None, load_weights=True):
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
            out=out or self.paths.model, init=init, load_weights=load_weights,
            max_length=r.max_length, settings=settings))
        return {"dev_accuracy": metrics["accuracy"]}

    def _evaluate(self, model=None, report=None):
        from tfbert.training.evaluate import evaluate_model

        report = report or self.paths.report
        metrics = evaluate_model(model or self.paths.model, self.paths.split("test"), report,
                                 progress=True)
        self.echo(f"      test accuracy {100 * metrics['accuracy']:.2f} %, macro-F1 "
                  f"{100 * metrics['macro_f1']:.2f} %; report {self._shown(report)} "
                  "(+ .md, confusion-matrix PNG)")
        return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}

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


    def _random_init(self):
        self._finetune(self.paths.model_random, load_weights=False)
        return self._evaluate(self.paths.model_random, self.paths.report_random)

    def _anchor(self):
        from tfbert.atomic import write_json
        from tfbert.data.readers import read_records
        from tfbert.evaluation.tfidf import tfidf_anchor

        train, test = (read_records(self.paths.split(s), need_labels=True)
                       for s in ("train", "test"))
        result = tfidf_anchor(([x["text"] for x in train], [x["label"] for x in train]),
                              ([x["text"] for x in test], [x["label"] for x in test]),
                              self.recipe.anchor_analyzer, self.recipe.anchor_ngrams)
        write_json(self.paths.anchor, result)
        self.echo(f"      {result['model']}: test accuracy {100 * result['accuracy']:.2f} %, "
                  f"macro-F1 {100 * result['macro_f1']:.2f} %")
        return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"],
                "model": result["model"]}

    def _attention(self):
        from tfbert.applications.attention import AttentionViewer

        view = AttentionViewer.from_pretrained(self.paths.model)(self.recipe.sentences[0])
        os.makedirs(self.paths.attention, exist_ok=True)
        paths = [view.save(os.path.join(self.paths.attention, f"attention{ext}"))
                 for ext in (".png", ".html")]
        layers, heads = view.weights.shape[:2]
        self.echo(f"      {layers} layers x {heads} heads over {len(view.tokens)} pieces: "
                  + ", ".join(self._shown(p) for p in paths))
        return {"png": paths[0], "html": paths[1]}

    def _comparison(self) -> list:
        """What pre-training bought: the fine-tuned model, the same encoder fine-tuned from
        random weights, and the TF-IDF anchor, each with test accuracy and macro-F1."""
        from tfbert import textfile

        r, p = self.recipe, self.paths
        # (the scores from the files the stages wrote, which a reused stage kept)
        model, random, anchor = (textfile.read_json(path, "a demo stage's scores")
                                 for path in (p.report, p.report_random, p.anchor))
        pretrained = (f"pre-trained here ({r.pretrain_steps:,} steps, "
                      f"{_count(self.log.facts('pretrain').get('tokens', 0))} tokens) "
                      "+ fine-tuned" if r.corpus
                      else "MiniLM-L6 (pre-trained by its authors) + fine-tuned")
        return [{"model": pretrained, "kind": "pretrained", **_scores(model)},
                {"model": "same encoder, random weights + fine-tuned (same steps)",
                 "kind": "random", **_scores(random)},
                {"model": anchor["model"], "kind": "anchor", **_scores(anchor)}]


def _count(n) -> str:
    """4.1M, 35.0k, 512."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def _scores(scores) -> dict:
    return {"accuracy": 100 * scores["accuracy"], "macro_f1": 100 * scores["macro_f1"]}


def _count_text(split, value) -> str:
    """A split's size (its per-label counts summed); a corpus's documents and sentences."""
    if isinstance(value, dict) and split == "corpus":
        return f"{split} " + ", ".join(f"{v:,} {k}" for k, v in value.items())
    return f"{split} {sum(value.values()) if isinstance(value, dict) else value:,}"


def run_demo(recipe: Recipe, out_dir, echo=print) -> dict:
    """Runs the demo `recipe` into `out_dir` (reusing finished stages); returns the results
    (also in `out_dir/results.json` and `results.md`)."""
    return Demo(recipe, out_dir, echo).run()
