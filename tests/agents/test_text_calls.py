"""Tool calls read out of plain text, for models and servers without tool calling."""

from __future__ import annotations

import json

from agents.llm.text_calls import read_text_calls


def args(calls):
    return [(c.name, json.loads(c.arguments), c.id) for c in calls]


def test_one_shell_block_is_a_bash_call_without_an_id():
    found = read_text_calls("Let me look.\n\n```bash\nls -la\ncat setup.py\n```\n")

    assert args(found.calls) == [("bash", {"command": "ls -la\ncat setup.py"}, None)]
    assert found.error is None


def test_a_block_starting_with_submit_submits_the_rest_as_summary():
    found = read_text_calls("Done.\n```bash\nsubmit\nFixed add().\nAdded nothing else.\n```")

    assert args(found.calls) == [("submit", {"summary": "Fixed add().\nAdded nothing else."}, None)]


def test_two_shell_blocks_are_an_error():
    found = read_text_calls("```sh\nls\n```\nthen\n```bash\npwd\n```")

    assert found.calls == [] and "2 shell blocks" in (found.error or "")


def test_a_python_snippet_is_not_an_action():
    assert read_text_calls("The fix:\n```python\nreturn a + b\n```").calls == []


def test_hermes_style_tagged_calls_are_read():
    content = 'I will look.<tool_call>{"name": "view_file", "arguments": {"path": "calc.py"}}</tool_call>'

    assert args(read_text_calls(content).calls) == [("view_file", {"path": "calc.py"}, None)]


def test_a_reply_that_is_only_a_json_call_is_read():
    content = '```json\n{"name": "search", "parameters": {"pattern": "def add"}}\n```'

    assert args(read_text_calls(content).calls) == [("search", {"pattern": "def add"}, None)]


def test_a_broken_tagged_call_is_an_error():
    assert "JSON object" in (read_text_calls("<tool_call>{nope</tool_call>").error or "")


def test_prose_alone_has_no_calls_and_no_error():
    found = read_text_calls("I think the bug is in add().")

    assert found.calls == [] and found.error is None
