"""The scripted model server: its script format, its HTTP control, and its standalone command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agents.llm import ToolSpec, make_model
from tests.agents.conftest import openai_config
from tests.support import Dynamic, load_script, text, tool

ROOT = Path(__file__).resolve().parents[2]
SUBMIT = ToolSpec(
    "submit",
    "finish",
    {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
)
HELLO = [{"role": "user", "content": "hello"}]


def test_a_json_script_holds_every_kind_of_step():
    script = load_script(
        {
            "when_exhausted": "submit",
            "replies": [
                {"text": "plan", "prompt_tokens": 9},
                {"tool": "bash", "arguments": {"command": "ls"}},
                {
                    "tool_calls": [{"name": "a", "arguments": {}}, {"name": "b", "arguments": "{broken"}],
                    "content": "two",
                },
                {"submit": "done"},
                {"status": 429, "headers": {"Retry-After": "1"}},
                {"garbage": "<html>"},
                {"hang": 2, "then": {"text": "late"}},
            ],
        }
    )

    assert script.when_exhausted == "submit" and len(script.replies) == 7
    assert script.replies[0].prompt_tokens == 9
    assert script.replies[2].calls[1].arguments_json() == "{broken"
    assert script.replies[6].then.content == "late"


def test_a_bad_step_is_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="needs one of text, tool"):
        load_script([{"say": "hi"}])


def test_an_exhausted_script_either_submits_or_fails_clearly(model_server):
    submitting = model_server(when_exhausted="submit")
    failing = model_server()

    reply = make_model(openai_config(submitting)).query(HELLO, tools=[SUBMIT])
    text_reply = make_model(openai_config(submitting)).query(HELLO)

    assert reply.tool_calls[0].name == "submit"
    assert "```bash\nsubmit" in text_reply.content
    with pytest.raises(Exception, match="script exhausted after 0 replies"):
        make_model(openai_config(failing)).query(HELLO)


def test_a_dynamic_step_answers_from_what_the_model_was_shown(model_server):
    server = model_server(Dynamic(lambda request: text(f"you said {request.last_message['content']}")))

    assert make_model(openai_config(server)).query(HELLO).content == "you said hello"


def test_it_can_be_scripted_and_read_over_http(model_server):
    server = model_server(text("replaced"))

    queued = httpx.post(f"{server.url}/_script", json={"replies": [{"text": "one"}]}).json()
    httpx.post(f"{server.url}/_script", json={"replies": [{"text": "two"}], "append": True})
    model = make_model(openai_config(server))
    answers = [model.query(HELLO).content, model.query(HELLO).content]
    recorded = httpx.get(f"{server.url}/_requests").json()["requests"]

    assert queued == {"queued": 1} and answers == ["one", "two"]
    assert [r["body"]["messages"] for r in recorded] == [HELLO, HELLO]
    assert httpx.get(f"{server.url}/v1/models").json()["data"][0]["id"] == "scripted"
    assert httpx.post(f"{server.url}/_script", json={"replies": [{"nope": 1}]}).status_code == 400


def test_it_runs_standalone_from_a_script_file(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {"when_exhausted": "submit", "replies": [{"tool": "bash", "arguments": {"command": "ls"}}]}
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.model_server", "--port", "0", "--script", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        url = banner.split("listening on ")[1].split()[0]
        model = make_model(openai_config(f"{url}/v1"))

        first = model.query(HELLO, tools=[SUBMIT])
        second = model.query(HELLO, tools=[SUBMIT])
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert first.tool_calls[0].name == "bash" and second.tool_calls[0].name == "submit"
    assert process.returncode == 0


def test_tool_is_one_call_with_keyword_or_dict_arguments():
    assert tool("bash", command="ls").calls[0].arguments == {"command": "ls"}
    assert tool("x", {"name": "y"}).calls[0].arguments == {"name": "y"}
