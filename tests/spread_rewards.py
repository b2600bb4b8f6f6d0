"""A reward with spread for smoke tests: a random model earns no task reward, so nothing would move."""


def length_bonus(completions, **kwargs):
    """Longer completions score higher (capped at 1): random models differ in length, so groups have spread."""
    from minir1.rewards import completion_text

    return [min(len(completion_text(c)) / 80, 1.0) for c in completions]
