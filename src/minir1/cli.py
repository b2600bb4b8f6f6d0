"""The ``minir1`` command line: a thin dispatcher onto library functions.

Each command imports what it needs when it runs, so ``minir1 --help`` and
``minir1 score`` start without loading torch or transformers. Bad input raises
:class:`~minir1.errors.UserError`, printed here as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys

from .errors import UserError


def _score(args: argparse.Namespace) -> int:
    from .scoring import score_lines

    if args.file == "-":
        score_lines(sys.stdin, sys.stdout, args.scheme, args.style)
    else:
        try:
            f = open(args.file, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as e:
            raise UserError(f"cannot read {args.file}: {e.strerror}") from None
        with f:
            score_lines(f, sys.stdout, args.scheme, args.style)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minir1",
        description="Teach small language models to reason with GRPO on grade-school math.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "score",
        help="score completions with the reward functions",
        description="Score JSON lines {completion, answer}; print {correct, extracted, rewards, total} per line.",
    )
    p.add_argument("file", help="a .jsonl file, or - for standard input")
    p.add_argument("--scheme", default="mini-r1", choices=["mini-r1", "grpo-demo"], help="reward scheme")
    p.add_argument("--style", choices=["think", "reasoning"], help="tag style (default: the scheme's own)")
    p.set_defaults(func=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
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
