"""Condensing old observations when the history nears the context window."""

from __future__ import annotations

import json

from agents.condense import condense, estimate_tokens


def history(outputs: int, size: int = 4000) -> list[dict]:
    messages: list[dict] = [
        {"role": "system", "content": "s" * 2000},
        {"role": "user", "content": "task " * 500},
    ]
    for n in range(outputs):
        call = {
            "id": f"c{n}",
            "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": f"cat f{n}"})},
        }
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append(
            {"role": "tool", "tool_call_id": f"c{n}", "content": f"line one of output {n}\n" + "x" * size}
        )
    return messages


def test_the_oldest_observations_go_first_and_the_task_and_newest_stay():
    messages = history(6)
    before = estimate_tokens(messages)

    done = condense(messages, target=before - 2500, keep_recent=2, step=9)  # each output is about 1000 tokens

    assert done is not None and done.step == 9
    assert sorted(done.originals) == [3, 5, 7]
    assert messages[3]["content"].startswith(
        "[condensed to fit the context window: 4021 characters removed; it began: line one of output 0"
    )
    assert messages[3]["tool_call_id"] == "c0"
    assert messages[1]["content"].startswith("task")
    assert messages[-1]["content"].endswith("x" * 100) and messages[-3]["content"].endswith("x" * 100)
    assert done.tokens_after < before - 2500
    assert done.to_dict()["originals"]["3"]["content"].endswith("x" * 4000)


def test_the_newest_are_condensed_too_when_nothing_else_is_left_but_never_the_last():
    messages = history(3)

    done = condense(messages, target=10, keep_recent=5, step=1)

    assert done is not None and sorted(done.originals) == [3, 5]
    assert messages[-1]["content"].endswith("x" * 100)


def test_a_big_file_in_tool_call_arguments_is_condensed():
    messages = history(0)
    call = {
        "id": "w",
        "type": "function",
        "function": {
            "name": "create_file",
            "arguments": json.dumps({"path": "big.py", "content": "y" * 9000}),
        },
    }
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "w", "content": "ok"},
    ]

    done = condense(messages, target=100, keep_recent=0, step=1)

    assert done is not None
    arguments = json.loads(messages[2]["tool_calls"][0]["function"]["arguments"])
    assert arguments["path"] == "big.py" and arguments["content"].startswith("[condensed")


def test_nothing_to_condense_says_so():
    messages = history(0)

    assert condense(messages, target=1, keep_recent=0, step=0) is None
