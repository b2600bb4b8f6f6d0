"""The ``minir1`` command line: a thin dispatcher onto library functions.

Each command's work is done in the module that owns it, imported only when the command runs, so
``minir1 --help`` and ``minir1 score`` start without loading torch or transformers. Bad input raises
:class:`~minir1.errors.UserError`, printed here as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError


def _command(sub, name: str, target: str, help: str, description: str, **kw) -> argparse.ArgumentParser:
    """Add the command ``name``, run by ``target``: ``"module:function"`` of minir1, imported when the command runs."""
    p = sub.add_parser(name, help=help, description=description, **kw)
    p.set_defaults(target=target)
    return p


def _score(args: argparse.Namespace) -> int:
    from .scoring import score_lines

    scheme, style, rewards = args.scheme, args.style, None
    if args.config:  # the rewards training with this recipe would use
        from .scoring import recipe_rewards

        scheme, recipe_style, rewards = recipe_rewards(args.config)
        style = style or recipe_style
    # Bytes, decoded line by line: a line of bad UTF-8 is reported by number after the lines before it.
    if args.file == "-":
        stdin = getattr(sys.stdin, "buffer", sys.stdin)  # a text stream without bytes (e.g. in a notebook) is fine too
        score_lines(stdin, sys.stdout, scheme, style, args.prefill, rewards)
    else:
        try:
            f = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise UserError(f"cannot read {args.file}: {e.strerror}") from None
        with f:
            score_lines(f, sys.stdout, scheme, style, args.prefill, rewards)
    return 0


def _settings_args(p: argparse.ArgumentParser, cls: type, only: tuple[str, ...] = ()) -> None:
    """One option per field of the settings dataclass ``cls`` (or per field in ``only``), with its default and help."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if only and f.name not in only:
            continue
        kw = dict(f.metadata)
        if f.default is not None and not isinstance(f.default, bool):
            kw["help"] += f" (default: {f.default})"
        if hints[f.name] is bool:
            p.add_argument(f"--{f.name}", action="store_true", **kw)
        else:
            kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
            p.add_argument(f"--{f.name}", type=kind, default=f.default, **kw)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minir1",
        description="Teach small language models to reason with GRPO on grade-school math.",
        epilog="Run 'minir1 COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .chat import SETTINGS as CHAT_SETTINGS  # light: neither imports torch
    from .evaluate import EvalSettings
    from .prompts import DEFAULT_STYLE, STYLES
    from .rewards import DEFAULT_SCHEME, SCHEMES

    # --- rewards ---------------------------------------------------------------------------
    p = _command(sub, "score", "cli:_score", "score completions with the reward functions",
                 "Score JSON lines {completion, answer[, prefill]}; print {correct, extracted, rewards, total} per "
                 "line.")
    p.add_argument("file", help="a .jsonl file, or - for standard input")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scheme", default=DEFAULT_SCHEME, choices=list(SCHEMES), help="reward scheme")
    which.add_argument("--config", metavar="RECIPE", help="score with a training recipe's rewards, weights and tag "
                                                          "style instead (a bundled name such as mini-r1-cpu, or a "
                                                          "YAML path)")
    p.add_argument("--style", choices=list(STYLES), help="tag style (default: the scheme's own)")
    p.add_argument("--prefill", metavar="TEXT",
                   help="text that opened each assistant turn, e.g. $'<think>\\n' in bash, judged with the "
                        "completion; a line's own \"prefill\" field takes precedence")

    # --- training --------------------------------------------------------------------------
    p = _command(sub, "train", "train:cli_train", "train with GRPO from a recipe",
                 "minir1 train --config RECIPE [--setting value ...]. Run 'minir1 train --help' for every setting.",
                 add_help=False)
    p.set_defaults(passthrough=True)  # settings are parsed by minir1.config

    p = _command(sub, "demo", "demo:cli_demo", "the whole method offline on a CPU in minutes (tiny model)",
                 "Build a tiny model, warm-start it, run GRPO, evaluate before and after, and write plots and "
                 "report.md.")
    p.add_argument("--output_dir", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing demo folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smaller demo for smoke tests (not a result)")

    p = _command(sub, "warmstart", "warmstart:cli_warmstart",
                 "supervised warm start on worked solutions (TRL's SFTTrainer)",
                 "Fine-tune on worked solutions in the tag format, so that GRPO starts from a model that already "
                 "writes the format.")
    p.add_argument("--model", required=True, help="Hub id, local folder, or 'tiny'")
    p.add_argument("--data", default="gsm8k:train", help="problems with worked solutions (default gsm8k:train)")
    p.add_argument("--output_dir", required=True, help="where the warm-started model is written")
    p.add_argument("--tag_style", default=DEFAULT_STYLE, choices=list(STYLES))
    p.add_argument("--limit", type=int, help="use only the first N problems")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning_rate", type=float, default=2e-5)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--lora", action="store_true", help="train a LoRA adapter and merge it (default: full)")
    p.add_argument("--overwrite", action="store_true")

    p = _command(sub, "plot", "plots:cli_plot", "draw a run's reward curves",
                 "Write RUN_DIR/plots/*.png from RUN_DIR/metrics.jsonl.")
    p.add_argument("run_dir")

    p = _command(sub, "tiny-model", "tiny:cli_tiny_model", "build the offline tiny Qwen2 model",
                 "Build a Qwen2-architecture model with random weights and a locally trained tokenizer (no network); "
                 "the same seed gives the same files.")
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab_size", type=int, default=1024)
    p.add_argument("--layers", type=int, help="number of layers (default 2)")
    p.add_argument("--hidden", type=int, help="hidden size, a multiple of 8 (default 64)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a tiny model built into OUT_DIR before (never any other folder)")

    # --- evaluation ------------------------------------------------------------------------
    p = _command(sub, "eval", "evaluate:cli_eval", "GSM8K accuracy with honest statistics",
                 "Evaluate a model (and adapter or run folder) on a problem set; resumable.")
    _settings_args(p, EvalSettings)
    p.add_argument("--recipe", metavar="NAME_OR_FILE",
                   help="use a recipe's prompt settings (tag style, system prompt, prefill) and, without --model, "
                        "its model: evaluate a base model as a run of that recipe will be, e.g. --recipe mini-r1")
    p.add_argument("--batch_size", type=int,
                   help="sequences (prompts x samples) generated together (default: 64 on a CPU, 128 on a GPU, "
                        "1024 with --backend vllm)")
    p.add_argument("--trust_remote_code", action="store_true", help="allow model code from the Hub")
    p.add_argument("--output_dir", required=True, help="where samples.jsonl and summary.json go")

    p = _command(sub, "compare", "compare:cli_compare", "two evaluations side by side, with a paired test",
                 "Compare two eval folders of the same problems: accuracies, McNemar's test, flips.")
    p.add_argument("out_a")
    p.add_argument("out_b")
    p.add_argument("--examples", type=int, default=3, help="examples shown of each kind of flip")
    p.add_argument("--lenient", action="store_true", help="pair the lenient verdicts (the last number anywhere, "
                   "format or not: the arithmetic alone) of greedy evaluations")

    p = _command(sub, "chat", "chat:cli_chat", "ask a model a question and watch it reason",
                 "Answer QUESTION, or read questions interactively; streams the reasoning.")
    _settings_args(p, EvalSettings, only=CHAT_SETTINGS)
    p.add_argument("--trust_remote_code", action="store_true", help="allow model code from the Hub")
    p.add_argument("question", nargs="?", help="a question; omit to read questions from the terminal")
    p.add_argument("--temperature", type=float, default=0.0, help="0 for greedy decoding")

    # --- ecosystem -------------------------------------------------------------------------
    p = _command(sub, "export", "export:cli_export", "merge a LoRA run into a standalone model",
                 "Merge RUN_DIR's adapter into its base model and write a model that plain transformers loads.")
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    p.add_argument("--push_to_hub", metavar="REPO_ID", help="also push the exported model to this Hub repository")
    p.add_argument("--overwrite", action="store_true")

    p = _command(sub, "doctor", "doctor:cli_doctor", "check versions, GPU and Hub access",
                 "Run pip check, check vLLM against TRL's range, the torch build, GPU and Hub access; exit non-zero "
                 "when something blocks training (versions: trl env).")
    p.add_argument("--no_network", action="store_true", help="skip the Hub check")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        args.argv = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        module, function = args.target.split(":")
        return getattr(importlib.import_module(f"minir1.{module}"), function)(args)
    except UserError as e:
        print(f"minir1: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("minir1: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `minir1 score big.jsonl | head` is not an error
        return 0


if __name__ == "__main__":
    sys.exit(main())
