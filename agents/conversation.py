"""The history and every model call made with it.

Every message joins the history through ``append`` (so it is redacted), and
every call goes through ``ask``, which keeps the history inside the context
window, switches to the text protocol when the server rejects tools, and
accounts for tokens and cost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agents import prompts
from agents.condense import condense, estimate_tokens
from agents.config import AgentConfig
from agents.llm.base import MalformedReply, Model, ModelReply, ToolSpec
from agents.outcomes import ContextOverflow, ToolsUnsupported
from agents.redact import Redactor
from agents.report import DeltaBuffer, Reporter
from agents.steps import Clock, StepRecord
from agents.task import ResumeState


class Conversation:
    def __init__(
        self, model: Model, state: ResumeState, config: AgentConfig, report: Reporter, redactor: Redactor
    ) -> None:
        self.model = model
        self.state = state
        self.config = config
        self.report = report
        self.redactor = redactor
        # (history length, tokens) as the server last counted them: the base of the context estimate.
        self.counted: tuple[int, int] | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.state.messages

    def append(self, message: dict[str, Any]) -> None:
        self.state.messages.append(self.redactor.deep(message))

    def ask(self, tools: Sequence[ToolSpec], record: StepRecord) -> ModelReply:
        """One model call; its reply joins the history. Raises ``MalformedReply`` for garbage."""
        self._fit(tools)
        clock = Clock()
        deltas = DeltaBuffer(self.report)
        on_delta = clock.wrap(deltas.add)
        on_status = clock.wrap(lambda text: self.report.status("retrying", text))
        reply: ModelReply | None = None
        try:
            for _ in range(3):  # at most one switch to text mode and one forced condensation
                try:
                    with clock.working():
                        reply = self.model.query(
                            self.messages, tools=tools, on_delta=on_delta, on_status=on_status
                        )
                    break
                except ToolsUnsupported as exc:
                    if self.model.tool_mode == "text":
                        raise
                    self._switch_to_text(str(exc))
                except ContextOverflow:
                    if not self.condense(force=True):
                        raise
        except MalformedReply:
            self.state.usage.model_calls += 1
            raise
        finally:
            record.model_seconds = round(clock.work, 6)
            deltas.flush()
        if reply is None:
            raise AssertionError("unreachable: every path above breaks or raises")
        record.attempts = reply.attempts
        self._account(reply, record)
        self.append(reply.message)
        if reply.content:
            self.report.emit("message", content=reply.content, final=True)
        self.counted = None if reply.usage.estimated else (len(self.messages), reply.usage.total_tokens)
        return reply

    def _account(self, reply: ModelReply, record: StepRecord) -> None:
        usage, totals = reply.usage, self.state.usage
        totals.prompt_tokens += usage.prompt_tokens
        totals.completion_tokens += usage.completion_tokens
        totals.cost += usage.cost
        totals.model_calls += 1
        totals.model_seconds += reply.duration
        record.prompt_tokens, record.completion_tokens, record.cost = (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost,
        )
        self.report.emit(
            "usage",
            step=record.index,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=usage.cost,
            estimated=usage.estimated,
            seconds=round(reply.duration, 3),  # the call, retries and their waits included
            attempts=reply.attempts,
            total_prompt_tokens=totals.prompt_tokens,
            total_completion_tokens=totals.completion_tokens,
            total_tokens=totals.total_tokens,
            total_cost=totals.cost,
            total_model_seconds=round(totals.model_seconds, 3),
        )

    def _switch_to_text(self, why: str) -> None:
        self.model.use_text_mode()
        self.state.tool_mode = "text"
        # Tools are first sent after the plan, so no tool call is in the history yet: only the
        # system prompt has to learn the text protocol.
        self.messages[0] = {"role": "system", "content": prompts.system_prompt("text")}
        note = self.redactor.text(
            f"the server rejected tool definitions, switched to the text protocol ({why})"
        )
        self.state.notes.append(note)
        self.report.status("degraded", note)

    def _fit(self, tools: Sequence[ToolSpec]) -> None:
        if self.counted is not None:
            length, tokens = self.counted
            estimate = tokens + estimate_tokens(self.messages[length:])
        else:
            estimate = estimate_tokens(self.messages) + len(json.dumps([t.openai() for t in tools])) // 4
        if estimate > self.config.condense_at * self.model.config.context_window:
            self.condense(force=False)

    def condense(self, *, force: bool) -> bool:
        """Condense old observations; False when nothing was left to condense."""
        target = int(self.config.condense_to * self.model.config.context_window)
        if force:  # the server disagreed with our estimate: aim at half of what we think we send
            target = min(target, estimate_tokens(self.messages) // 2)
        done = condense(
            self.messages,
            target=target,
            keep_recent=self.config.keep_recent_observations,
            step=self.state.steps,
        )
        if done is None:
            return False
        self.counted = None
        self.state.condensations.append(self.redactor.deep(done.to_dict()))
        summary = (
            f"condensed {done.removed} old messages: about {done.tokens_before} to {done.tokens_after} tokens"
        )
        self.report.emit(
            "condensed",
            removed=done.removed,
            summary=summary,
            tokens_before=done.tokens_before,
            tokens_after=done.tokens_after,
        )
        return True
