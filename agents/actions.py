"""Carrying out the model's tool calls, each result going back into the history.

A call that cannot be read (arguments that are not JSON, an unknown tool)
becomes an error observation and marks the step malformed; a tool that fails
(a missing file, an ambiguous edit) is an ordinary error observation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from agents import prompts
from agents.config import AgentConfig
from agents.conversation import Conversation
from agents.llm.base import ToolCall
from agents.outcomes import AgentOutcome, Cancelled, Submitted
from agents.report import Reporter, clip
from agents.run_record import test_payload
from agents.steps import Clock, StepRecord
from agents.task import ResumeState
from agents.tools import Observation, Toolbox, ToolError


class _Malformed(Exception):
    """The call itself is unusable; the message tells the model why."""


class Actions:
    def __init__(
        self,
        toolbox: Toolbox,
        conversation: Conversation,
        report: Reporter,
        state: ResumeState,
        config: AgentConfig,
    ) -> None:
        self.toolbox = toolbox
        self.conversation = conversation
        self.report = report
        self.state = state
        self.config = config

    def run(
        self, calls: Sequence[ToolCall], record: StepRecord, should_cancel: Callable[[], bool]
    ) -> tuple[bool, AgentOutcome | None]:
        """Run the calls in order: (whether one was malformed, the outcome that ends the run or None)."""
        malformed = False
        for number, call in enumerate(calls):
            if number and should_cancel():
                self._skip(calls[number:], "cancelled")
                return malformed, Cancelled("cancelled by request")
            try:
                malformed |= self._execute(call, f"{record.index}.{number}", record)
            except Submitted as submitted:
                self._skip(calls[number + 1 :], "the run ended with a submit")
                return malformed, submitted
        return malformed, None

    def _execute(self, call: ToolCall, event_id: str, record: StepRecord) -> bool:
        """Run one call and append its observation; True when the call itself was malformed."""
        call_id = call.id or event_id
        clock = Clock()
        malformed = False
        try:
            arguments = self._arguments(call, call_id)
            on_output = clock.wrap(lambda chunk: self.report.output(call_id, chunk))
            if call.name == "submit":
                observation = self._submit(arguments, on_output, clock)
            else:
                with clock.working():
                    observation = self.toolbox.call(call.name, arguments, on_output=on_output)
        except _Malformed as exc:
            malformed = True
            record.errors.append(str(exc))
            self.report.malformed(str(exc))
            observation = Observation(f"Error: {exc}.", error=True)
        except ToolError as exc:
            observation = Observation(f"Error: {exc}", error=True)
        except Submitted:
            self._observe(call, call_id, Observation("Submitted."), clock.work, record)
            raise
        if observation.test_result is not None:
            self.report.emit("test_result", **test_payload(observation.test_result, "step"))
        self._observe(call, call_id, observation, clock.work, record)
        return malformed

    def _arguments(self, call: ToolCall, call_id: str) -> dict[str, Any]:
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            self.report.emit("tool_call", id=call_id, name=call.name, arguments={"_raw": call.arguments})
            raise _Malformed(f"the arguments of {call.name} are not valid JSON ({exc})") from None
        self.report.emit("tool_call", id=call_id, name=call.name, arguments=arguments)
        if not isinstance(arguments, dict):
            raise _Malformed(f"the arguments of {call.name} must be a JSON object")
        if self.toolbox.spec(call.name) is None:
            names = ", ".join(s.name for s in self.toolbox.specs)
            raise _Malformed(f"there is no tool named {call.name!r}; the tools are: {names}")
        return arguments

    def _observe(
        self, call: ToolCall, call_id: str, observation: Observation, seconds: float, record: StepRecord
    ) -> None:
        # NUL is the one character PostgreSQL's text and JSON types refuse: the platform stores these.
        text = clip(
            self.conversation.redactor.text(observation.text).replace("\0", "\ufffd"),
            self.config.observation_chars,
        )
        if call.id is not None:
            self.conversation.append({"role": "tool", "tool_call_id": call.id, "content": text})
        else:
            self.conversation.append({"role": "user", "content": prompts.text_observation(text)})
        record.tool_seconds = round(record.tool_seconds + seconds, 6)
        record.tool_calls.append(
            {"id": call_id, "name": call.name, "seconds": round(seconds, 6), "error": observation.error}
        )
        self.report.emit(
            "tool_result",
            id=call_id,
            name=call.name,
            output=text,
            exit_code=observation.exit_code,
            error=observation.error,
        )

    def _submit(
        self, arguments: dict[str, Any], on_output: Callable[[str], None], clock: Clock
    ) -> Observation:
        """Submit, unless the tests fail and the model may still be turned back to fix them."""
        summary = str(arguments.get("summary", "")).strip()
        if self.toolbox.test_command and self.state.submit_rejections < self.config.max_submit_rejections:
            with clock.working():
                result = self.toolbox.run_tests(on_output)
            self.report.emit("test_result", **test_payload(result, "submit"))
            if not result.ok:
                self.state.submit_rejections += 1
                return Observation(prompts.submit_refused(prompts.test_report(result)), error=True)
        raise Submitted(summary)

    def _skip(self, calls: Sequence[ToolCall], why: str) -> None:
        """Answer calls that will not run, so every tool call in the history has its result."""
        for call in calls:
            if call.id is not None:
                self.conversation.append(
                    {"role": "tool", "tool_call_id": call.id, "content": f"Not run: {why}."}
                )
