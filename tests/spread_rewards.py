"""A reward with spread for smoke tests: a random model earns no task reward, so nothing would move."""


def length_bonus(completions, **kwargs):
    """Longer completions score higher (capped at 1): random models differ in length, so groups have spread."""
    from minir1.rewards import completion_text

    return [min(len(completion_text(c)) / 80, 1.0) for c in completions]


def digit_share(completions, **kwargs):
    """The share of a completion's characters that are digits: sampled completions of a real model, cut at the
    same short length, all earn length_bonus's cap, but still differ in how much arithmetic they write."""
    from minir1.rewards import completion_text

    texts = [completion_text(c) for c in completions]
    return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]
