"""Secrets are masked in every string that leaves the run."""

from agents.redact import MASK, Redactor


def test_every_occurrence_in_nested_data_is_masked():
    redactor = Redactor(["sk-secret-123", None, ""])

    masked = redactor.deep({"a": ["key sk-secret-123 here", {"b": "sk-secret-123"}], "n": 3})

    assert masked == {"a": [f"key {MASK} here", {"b": MASK}], "n": 3}


def test_a_secret_containing_another_is_masked_whole():
    redactor = Redactor(["abcdef", "abcdef-ghijkl"])

    assert redactor.text("x abcdef-ghijkl y abcdef") == f"x {MASK} y {MASK}"


def test_values_too_short_to_be_keys_are_ignored():
    assert Redactor(["ab"]).text("ab cab") == "ab cab"
