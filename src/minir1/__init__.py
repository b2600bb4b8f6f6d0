"""minir1: teach small language models to reason with GRPO on grade-school math."""

__version__ = "0.1.0"
