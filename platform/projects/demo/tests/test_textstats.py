from textstats import average_word_length, line_count, word_count


def test_word_count_counts_simple_words():
    assert word_count("one two three") == 3


def test_word_count_ignores_repeated_whitespace():
    assert word_count("hello   world\nagain") == 3


def test_empty_text_has_no_words():
    assert word_count("") == 0


def test_line_count():
    assert line_count("a\nb\nc\n") == 3


def test_average_word_length():
    assert average_word_length("ab abcd") == 3.0
