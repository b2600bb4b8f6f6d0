"""The public API: `import minir1` stays light, every exported name resolves, and the notebook uses nothing else."""

import ast
import json
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import minir1

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


def test_import_minir1_loads_no_heavy_library():
    code = ("import sys, minir1; heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') "
            "if m in sys.modules]; print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_documented():
    for name in minir1.__all__:
        value = getattr(minir1, name)
        assert not isinstance(value, types.ModuleType), name
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert set(minir1.__all__) <= set(dir(minir1))
    with pytest.raises(AttributeError, match="no attribute 'train'"):
        minir1.__getattr__("train")


def test_no_public_name_shadows_a_submodule():
    # importing minir1.X sets the attribute minir1.X to the submodule, which would hide a function named X
    submodules = {m.name for m in pkgutil.iter_modules(minir1.__path__)}
    assert not set(minir1.__all__) & submodules


def notebook_code() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_the_notebook_uses_only_public_names():
    used, problems = set(), []
    for source in notebook_code():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minir1"):
                if node.module != "minir1":
                    problems.append(f"from {node.module} import ...")
                used |= {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                problems += [f"import {a.name}" for a in node.names if a.name.startswith("minir1.")]
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id == "minir1":
                    used.add(node.attr)
                if node.attr.startswith("_"):
                    problems.append(f"private attribute .{node.attr}")
    assert not problems
    assert used <= set(minir1.__all__), used - set(minir1.__all__)
    assert {"run_training", "run_eval", "score", "ask", "export_run", "check_environment"} <= used
