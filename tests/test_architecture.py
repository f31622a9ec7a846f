"""The package map holds: no import cycle anywhere in `tfbert/` (imports inside functions
counted), each layer imports only what the README's architecture table allows, and
`import tfbert` does not load TensorFlow. Read from the source with `ast`; nothing is run
but one fresh interpreter."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tfbert"


def _module(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package=PACKAGE) -> dict:
    """`{module: {tfbert modules it imports}}`, a package standing for its `__init__`."""
    files = {_module(p): p for p in package.rglob("*.py")}

    def resolve(name):
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, path in files.items():
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {resolve(a.name) for a in node.names if a.name.startswith("tfbert")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base.startswith("tfbert"):
                    found |= {resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in files
                              else resolve(base) for a in node.names}
        graph[module] = found - {module, ""}
    return graph


def cycles(graph) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    package = tmp_path / "tfbert"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("def f():\n    from tfbert.b import y\n")
    (package / "b.py").write_text("from tfbert.a.x import f\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert cycles(import_graph(package)) == [["tfbert.a.x", "tfbert.b"]]
    finally:
        ROOT = saved


# Which tfbert packages each layer may import (the README's architecture table).
ALLOWED = {
    "tfbert.export": ("tfbert.export", "tfbert.modeling", "tfbert.tokenization", "tfbert.task",
                      "tfbert.model_dir", "tfbert.convert", "tfbert.config", "tfbert.data",
                      "tfbert.evaluation", "tfbert.atomic", "tfbert.textfile",
                      "tfbert.progress", "tfbert.quiet", "tfbert.backends"),
    "tfbert.task": ("tfbert.task", "tfbert.config", "tfbert.textfile"),
    "tfbert.modeling": ("tfbert.modeling",),
    "tfbert.applications": ("tfbert.applications", "tfbert.convert", "tfbert.modeling",
                            "tfbert.model_dir", "tfbert.tokenization", "tfbert.task",
                            "tfbert.registry", "tfbert.progress", "tfbert.config",
                            # readers of the files an application takes, and its metrics
                            "tfbert.data.readers", "tfbert.textfile", "tfbert.evaluation"),
    "tfbert.registry": (),
}


def test_layers_import_only_what_they_may():
    graph = import_graph()
    wrong = [f"{module} imports {dep}" for layer, allowed in ALLOWED.items()
             for module, deps in graph.items() if module.startswith(layer)
             for dep in sorted(deps) if not dep.startswith(allowed)]
    assert wrong == []
    # The rule the issue named: exporting never needs the training code.
    assert not [d for m, deps in graph.items() if m.startswith("tfbert.export")
                for d in deps if d.startswith("tfbert.training")]


def test_import_tfbert_does_not_load_tensorflow():
    done = subprocess.run([sys.executable, "-c", "import sys, tfbert, tfbert.task, "
                           "tfbert.tokenization.casing; print('tensorflow' in sys.modules)"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
