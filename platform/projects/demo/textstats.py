"""Small text statistics."""


def word_count(text: str) -> int:
    """Number of words in ``text``, separated by any whitespace."""
    if not text:
        return 0
    return len(text.split(" "))


def line_count(text: str) -> int:
    """Number of lines in ``text``; a trailing newline does not start a new line."""
    if not text:
        return 0
    return len(text.splitlines())


def average_word_length(text: str) -> float:
    words = text.split()
    if not words:
        return 0.0
    return sum(len(w) for w in words) / len(words)
