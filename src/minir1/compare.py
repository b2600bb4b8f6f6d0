"""``minir1 compare``: two evaluations of the same problems, side by side, with a paired test.

Problems are paired by id; a problem's verdict is its ``correct`` field (the majority vote's when K samples
were drawn), or with ``--lenient`` its ``lenient_correct`` one (the last number anywhere). Different problem
sets (ids or golds differ), unfinished evaluations (no summary.json yet) and empty ones are refused: a
difference between them says nothing about the models. A folder compared with itself is allowed, with a warning.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import UserError
from .evaluate import CONFIG, SAMPLES, SUMMARY, pct, read_samples
from .jsonl import read_json
from .stats import mcnemar, wilson


def load_eval(folder: str | os.PathLike) -> tuple[dict, list[dict]]:
    """``(summary, records)`` of a finished evaluation folder; UserError when it is not one."""
    path = Path(folder)
    if not (path / SAMPLES).is_file():
        raise UserError(f"{folder} is not an evaluation folder (no {SAMPLES}): pass a --output_dir of minir1 eval")
    if not (path / SUMMARY).is_file():
        raise UserError(f"the evaluation in {folder} is not finished (no {SUMMARY}): run its minir1 eval command "
                        "again to finish it")
    return read_json(path / SUMMARY, ""), read_samples(path / SAMPLES)


def _same_problems(a: str, ra: dict[str, dict], b: str, rb: dict[str, dict]) -> None:
    only_a, only_b = sorted(set(ra) - set(rb)), sorted(set(rb) - set(ra))
    if only_a or only_b:
        example = (only_a or only_b)[0]
        raise UserError(f"{a} and {b} evaluated different problems ({len(only_a)} only in the first, "
                        f"{len(only_b)} only in the second, e.g. {example}): compare evaluations with the same "
                        "--data and --limit")
    for pid, r in ra.items():
        if r["gold"] != rb[pid]["gold"]:
            raise UserError(f"{a} and {b} have different gold answers for problem {pid} ({r['gold']} vs "
                            f"{rb[pid]['gold']}): they were evaluated on different data")


VERDICTS = {"correct": "extracted", "lenient_correct": "lenient_extracted"}  # each verdict and the answer it judged


def _answer(record: dict, verdict: str) -> str | None:
    return record.get("majority") if "samples" in record else record.get(VERDICTS[verdict])


def _example(a: dict, b: dict, verdict: str) -> dict:
    return {"id": a["id"], "question": a["question"], "gold": a["gold"], "answer_a": _answer(a, verdict),
            "answer_b": _answer(b, verdict)}


def compare_evals(a: str | os.PathLike, b: str | os.PathLike, examples: int = 3, verdict: str = "correct") -> dict:
    """Accuracies of two evaluations of the same problems, their difference, McNemar's test and the flips.

    ``a_only``: problems only A got right; ``b_only``: only B; ``difference``: accuracy B minus A. McNemar's
    test asks whether the problems only one model solved outnumber those only the other solved by more than chance.
    ``verdict="lenient_correct"`` pairs the lenient verdicts (the last number anywhere) of greedy evaluations.
    """
    if examples < 0:
        raise UserError(f"--examples must be 0 or more, got {examples}")
    if verdict not in VERDICTS:
        raise UserError(f"unknown verdict {verdict!r}: choose {' or '.join(VERDICTS)}")
    (sa, ra), (sb, rb) = load_eval(a), load_eval(b)
    by_a, by_b = {r["id"]: r for r in ra}, {r["id"]: r for r in rb}
    _same_problems(str(a), by_a, str(b), by_b)
    n = len(by_a)
    if n == 0:
        raise UserError(f"{a} holds no evaluated problems: nothing to compare (run minir1 eval into it again)")
    if any(verdict not in r for r in (*ra, *rb)):
        raise UserError(f"{a} or {b} has no {verdict!r} verdicts (lenient ones are kept only for greedy evaluations)")
    both = sum(by_a[i][verdict] and by_b[i][verdict] for i in by_a)
    a_only = [i for i in by_a if by_a[i][verdict] and not by_b[i][verdict]]
    b_only = [i for i in by_a if by_b[i][verdict] and not by_a[i][verdict]]
    acc_a, acc_b = (both + len(a_only)) / n, (both + len(b_only)) / n

    def side(folder, summary: dict, accuracy: float) -> dict:
        low, high = wilson(accuracy * n, n)
        settings = summary.get("settings", {})
        return {"folder": str(folder), "model": settings.get("model"), "adapter": settings.get("adapter"),
                "samples_per_problem": summary.get("samples_per_problem", 1), "accuracy": accuracy,
                "ci_low": low, "ci_high": high}

    config_a, config_b = (read_json(Path(x) / CONFIG) for x in (a, b))
    return {
        "n": n,
        "verdict": verdict,
        "same_folder": os.path.samefile(a, b),  # both exist: load_eval found their files
        "a": side(a, sa, acc_a),
        "b": side(b, sb, acc_b),
        "difference": acc_b - acc_a,
        "both_right": both,
        "both_wrong": n - both - len(a_only) - len(b_only),
        "a_only": len(a_only),
        "b_only": len(b_only),
        "mcnemar": asdict(mcnemar(len(a_only), len(b_only))),
        "settings_that_differ": sorted(k for k in set(config_a) | set(config_b)
                                       if config_a.get(k) != config_b.get(k)),
        "examples": {"a_only": [_example(by_a[i], by_b[i], verdict) for i in a_only[:examples]],
                     "b_only": [_example(by_a[i], by_b[i], verdict) for i in b_only[:examples]]},
    }


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_comparison(result: dict) -> str:
    """The report ``minir1 compare`` prints."""
    a, b, t = result["a"], result["b"], result["mcnemar"]

    def name(side: dict) -> str:
        return f"{side['folder']} ({side['model']}" + (f" + {side['adapter']}" if side["adapter"] else "") + ")"

    def accuracy(label: str, side: dict) -> str:
        k = side["samples_per_problem"]
        how = f" (majority vote of {k} samples)" if k > 1 else ""
        return (f"  accuracy {label}   {pct(side['accuracy']):>7}   95% CI {pct(side['ci_low'])} - "
                f"{pct(side['ci_high'])}{how}")

    verdict = "significant at 5%" if t["p_exact"] < 0.05 else "not significant at 5%"
    lines = [
        f"A: {name(a)}",
        f"B: {name(b)}",
        f"{result['n']} problems, paired by id" + (", lenient verdicts (the last number anywhere)"
                                                   if result.get("verdict") == "lenient_correct" else ""),
        accuracy("A", a),
        accuracy("B", b),
        f"  B - A        {100 * result['difference']:+6.1f} points",
        f"  flips        {result['b_only']} right only in B, {result['a_only']} right only in A "
        f"({result['both_right']} right in both, {result['both_wrong']} wrong in both)",
        f"  McNemar      exact p = {t['p_exact']:.4g} (chi-square with continuity correction: p = {t['p_chi2']:.4g}): "
        f"{verdict}",
    ]
    if result["settings_that_differ"]:
        lines.append(f"  settings that differ: {', '.join(result['settings_that_differ'])}")
    for key, title in (("b_only", "right only in B"), ("a_only", "right only in A")):
        for ex in result["examples"][key]:
            lines.append(f"  [{title}] {ex['id']}: {_short(ex['question'])}")
            lines.append(f"      gold {ex['gold']}; A answered {ex['answer_a']}; B answered {ex['answer_b']}")
    return "\n".join(lines)


def cli_compare(args) -> int:
    result = compare_evals(args.out_a, args.out_b, args.examples, "lenient_correct" if args.lenient else "correct")
    if result["same_folder"]:
        print(f"minir1: warning: {args.out_a} and {args.out_b} are the same folder: an evaluation compared with "
              "itself shows no difference", file=sys.stderr)
    print(format_comparison(result))
    return 0
