"""The bundled recipes (the YAML files beside this module), and how a recipe's settings are found and read."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import UserError

HERE = Path(__file__).parent


def recipe_path(recipe: str) -> Path:
    """A recipe's YAML file: a path when it ends in .yaml or .yml, else a bundled recipe's name."""
    if recipe.endswith((".yaml", ".yml")):
        path = Path(recipe).expanduser()
        if not path.is_file():
            raise UserError(f"recipe file not found: {recipe}")
        return path
    if recipe not in list_recipes():
        hint = f"; to use the file {recipe}, name it with .yaml" if Path(recipe).exists() else ""
        raise UserError(f"unknown recipe {recipe!r}: choose one of {', '.join(list_recipes())}, or give a path "
                        f"ending in .yaml{hint}")
    return HERE / f"{recipe}.yaml"


def list_recipes() -> list[str]:
    return sorted(str(p.relative_to(HERE).with_suffix("")) for p in HERE.rglob("*.yaml"))


def read_recipe(recipe: str) -> dict:
    """A recipe's settings as written (its name becomes ``recipe`` unless it names one)."""
    path = recipe_path(recipe)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"recipe {path}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"recipe {path}: expected a mapping of settings")
    return {"recipe": path.stem, **loaded}
