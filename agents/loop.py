"""The agent loop: plan, act, verify, finish.

``run_agent`` is the one entry point. A run is ``while True: step()``, where
a step is one model call and the tool calls it asked for; every message is
appended to one linear history. Runs end by exception (``agents.outcomes``):
``Submitted`` when the model submits (after the tests had their say),
``LimitsExceeded`` / ``TimeExceeded`` when a budget runs out, ``Cancelled``,
``AwaitingPlanApproval``, ``FormatError`` after too many malformed replies in
a row, ``ModelError`` when the server fails for good.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from agents import prompts
from agents.actions import Actions
from agents.config import AgentConfig
from agents.conversation import Conversation
from agents.events import EventSink, null_sink
from agents.feedback import TestResult, compute_reward, diff_stats, run_tests
from agents.guidance import gather_guidance
from agents.llm.base import MalformedReply, Model, ModelReply, ToolSpec
from agents.llm.text_calls import read_text_calls
from agents.outcomes import (
    AgentOutcome,
    AwaitingPlanApproval,
    Cancelled,
    FormatError,
    LimitsExceeded,
    SandboxFailure,
    Submitted,
    TimeExceeded,
    UnexpectedError,
)
from agents.redact import Redactor
from agents.report import Reporter
from agents.run_record import build_trajectory, test_payload
from agents.sandbox.base import Sandbox, SandboxError
from agents.steps import StepRecord
from agents.task import ResumeState, RunResult, Task
from agents.tools import Toolbox

OnStep = Callable[[int, ResumeState], None]


def run_agent(
    task: Task,
    *,
    sandbox: Sandbox,
    model: Model,
    config: AgentConfig | None = None,
    sink: EventSink = null_sink,
    should_cancel: Callable[[], bool] = lambda: False,
    on_step: OnStep | None = None,
    resume: ResumeState | None = None,
) -> RunResult:
    """Run the agent on ``task`` in ``sandbox`` until it submits or something ends it.

    ``sink`` receives every event; ``should_cancel`` is checked between steps
    and between tool calls; ``on_step(step, state)`` runs after each completed
    step with a snapshot to persist (``state.to_dict()``); ``resume`` carries
    on from such a snapshot, or from ``RunResult.state`` after a plan approval.
    Never raises for anything a run can meet: the outcome is in the result.
    """
    agent = Agent(
        task,
        sandbox=sandbox,
        model=model,
        config=config or AgentConfig(),
        sink=sink,
        should_cancel=should_cancel,
        on_step=on_step,
        resume=resume,
    )
    return agent.run()


class Agent:
    def __init__(
        self,
        task: Task,
        *,
        sandbox: Sandbox,
        model: Model,
        config: AgentConfig,
        sink: EventSink,
        should_cancel: Callable[[], bool],
        on_step: OnStep | None,
        resume: ResumeState | None,
    ) -> None:
        self.task, self.sandbox, self.model, self.config = task, sandbox, model, config
        self.should_cancel = should_cancel
        self.on_step = on_step
        self.resumed = resume is not None
        self.state = resume.snapshot() if resume is not None else ResumeState(tool_mode=model.tool_mode)
        if self.state.tool_mode == "text":
            model.use_text_mode()
        self.redactor = Redactor([model.config.api_key, *config.secrets])
        self.report = Reporter(sink, self.redactor)
        self.conversation = Conversation(model, self.state, config, self.report, self.redactor)
        self.toolbox = Toolbox(sandbox, config, test_command=task.test_command, time_left=self._time_left)
        self.actions = Actions(self.toolbox, self.conversation, self.report, self.state, config)
        self.started = time.monotonic()
        self.elapsed_before = self.state.elapsed
        self.format_errors = 0
        self.crash: str | None = None
        self._record = StepRecord(index=self.state.steps)  # the step under way; each model call opens one

    def run(self) -> RunResult:
        try:
            self._prepare()
            while True:
                self._check_budget()
                self.step()
        except AgentOutcome as outcome:
            ended = outcome
        except SandboxError as exc:
            ended = SandboxFailure(f"the sandbox failed: {exc}")
        except Exception as exc:
            self.crash = traceback.format_exc()
            ended = UnexpectedError(f"internal error: {exc.__class__.__name__}: {exc}")
        return self._finish(ended)

    # -- before the first action -------------------------------------------------

    def _prepare(self) -> None:
        if self.resumed:
            self.report.status(
                "resuming", f"carrying on after step {self.state.steps}", step=self.state.steps
            )
        else:
            self._start()
        if self.state.awaiting_approval:
            self._approve()
        self.report.status("running", "working on the task")

    def _start(self) -> None:
        self.report.status("preparing", "reading the repository")
        config, task = self.config, self.task
        guidance = task.guidance or gather_guidance(
            self.sandbox, depth=config.tree_depth, entries=config.tree_entries, chars=config.guidance_chars
        )
        self.state.base_commit = guidance.commit
        self.state.baseline = task.baseline
        if self.state.baseline is None and config.run_baseline and task.test_command.strip():
            self.report.status("baseline", "running the tests before any change")
            self.state.baseline = self._tests("baseline")
        ask_plan = config.plan and not task.approved_plan
        self.conversation.append({"role": "system", "content": prompts.system_prompt(self.model.tool_mode)})
        first = prompts.task_message(task, guidance, self.state.baseline, ask_plan=ask_plan)
        self.conversation.append({"role": "user", "content": first})
        self.state.plan = task.approved_plan
        if ask_plan:
            self._plan()

    def _plan(self) -> None:
        self.report.status("planning", "writing a plan")
        self._check_budget()
        reply = self._ask(())
        while reply is None:  # garbage counts toward FormatError; ask again
            self._check_budget()
            reply = self._ask(())
        plan = reply.content.strip()
        self.state.plan = plan
        wait = self.config.require_plan_approval
        self.report.emit("plan", plan=plan, steps=prompts.plan_steps(plan), awaiting_approval=wait)
        if wait:
            self.state.awaiting_approval = True
        else:
            proceed = prompts.PROCEED_TEXT if self.model.tool_mode == "text" else prompts.PROCEED
            self.conversation.append({"role": "user", "content": proceed})
        self._end_step(self._record)

    def _approve(self) -> None:
        approved = self.task.approved_plan
        if not approved:
            self.report.status("awaiting_plan_approval", "the plan needs a person's approval")
            raise AwaitingPlanApproval(self.state.plan or "")
        edited = approved.strip() != (self.state.plan or "").strip()
        message = prompts.plan_approved(approved, edited=edited, tool_mode=self.model.tool_mode)
        self.conversation.append({"role": "user", "content": message})
        self.state.plan = approved
        self.state.awaiting_approval = False
        steps = prompts.plan_steps(approved)
        self.report.emit(
            "plan", plan=approved, steps=steps, awaiting_approval=False, approved=True, edited=edited
        )

    # -- one step ------------------------------------------------------------------

    def step(self) -> None:
        reply = self._ask(self.toolbox.specs)
        if reply is None:
            return
        record = self._record
        calls = list(reply.tool_calls)
        if not calls:
            parsed = read_text_calls(reply.content)
            calls = parsed.calls
            if not calls:
                self._no_action(reply, parsed.error)
                return
        malformed, ended = self.actions.run(calls, record, self.should_cancel)
        self._end_step(record, clean=not malformed, ending=ended is not None)
        if ended is not None:
            raise ended

    def _ask(self, tools: list[ToolSpec] | tuple[ToolSpec, ...]) -> ModelReply | None:
        """A model call opening a new step; None (the step already ended) when the reply was garbage."""
        self._record = StepRecord(index=self.state.steps)
        try:
            return self.conversation.ask(tools, self._record)
        except MalformedReply as exc:
            # Nothing joins the history: the model never said anything.
            self._malformed(f"the model server's reply could not be read: {exc}")
            self._end_step(self._record)
            return None

    def _no_action(self, reply: ModelReply, error: str | None) -> None:
        if error:
            problem = f"Error: {error}."
        elif not reply.content.strip():
            problem = prompts.EMPTY_REPLY
        else:
            problem = prompts.NO_ACTION_TEXT if self.model.tool_mode == "text" else prompts.NO_ACTION
        self._malformed(problem)
        self.conversation.append({"role": "user", "content": problem})
        self._end_step(self._record)

    def _malformed(self, problem: str) -> None:
        self._record.errors.append(problem)
        self.report.malformed(problem)

    def _end_step(self, record: StepRecord, *, clean: bool | None = None, ending: bool = False) -> None:
        self.state.step_records.append(record.finish())
        self.state.steps += 1
        self.state.elapsed = self._elapsed()
        clean = not record.errors if clean is None else clean
        self.format_errors = 0 if clean else self.format_errors + 1
        if self.on_step is not None:
            self.on_step(record.index, self.state.snapshot())
        limit = self.config.max_format_errors
        if not ending and limit and self.format_errors >= limit:
            raise FormatError(
                f"{self.format_errors} malformed replies in a row; the last: {record.errors[-1]}"
            )

    # -- budgets -------------------------------------------------------------------

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def _time_left(self) -> float | None:
        return self.config.wall_clock - self._elapsed() if self.config.wall_clock else None

    def _check_budget(self) -> None:
        config, usage = self.config, self.state.usage
        if self.should_cancel():
            raise Cancelled("cancelled by request")
        if config.max_steps and self.state.steps >= config.max_steps:
            raise LimitsExceeded(f"step limit reached ({self.state.steps} of {config.max_steps} steps)")
        if config.max_tokens and usage.total_tokens >= config.max_tokens:
            raise LimitsExceeded(f"token budget spent ({usage.total_tokens} of {config.max_tokens} tokens)")
        if config.max_cost and usage.cost >= config.max_cost:
            raise LimitsExceeded(f"cost budget spent ({usage.cost:.4f} of {config.max_cost:.4f})")
        if config.wall_clock and self._elapsed() >= config.wall_clock:
            raise TimeExceeded(
                f"wall-clock limit reached ({self._elapsed():.1f} s of {config.wall_clock:g} s)"
            )

    # -- the end -------------------------------------------------------------------

    def _tests(self, phase: str) -> TestResult:
        result = run_tests(
            self.sandbox,
            self.task.test_command,
            on_output=lambda chunk: self.report.output(phase, chunk),
            timeout=self.config.test_timeout,
        )
        self.report.emit("test_result", **test_payload(result, phase))
        return result

    def _finish(self, ended: AgentOutcome) -> RunResult:
        final = reward = None
        if (
            ended.outcome not in ("cancelled", "awaiting_plan_approval", "sandbox_error")
            and self.config.run_final
        ):
            try:
                if self.task.test_command.strip():
                    self.report.status("final_tests", "running the tests after the change")
                    final = self._tests("final")
                diff = diff_stats(self.sandbox, self.state.base_commit or "HEAD")
                reward = compute_reward(self.state.baseline, final, diff)
            except SandboxError as exc:
                self.state.notes.append(
                    self.redactor.text(f"final tests not run: the sandbox failed ({exc})")
                )
        self.state.elapsed = self._elapsed()
        reason = self.redactor.text(ended.reason)
        summary = self.redactor.text(ended.summary) if isinstance(ended, Submitted) else ""
        if ended.outcome not in ("submitted", "awaiting_plan_approval"):
            self.report.emit("error", message=reason, reason=ended.outcome)
        self.report.status("finished", reason, outcome=ended.outcome, reason=reason)
        result = RunResult(
            outcome=ended.outcome,
            reason=reason,
            summary=summary,
            plan=self.state.plan,
            baseline=self.state.baseline,
            final=final,
            reward=reward,
            usage=self.state.usage,
            steps=self.state.steps,
            elapsed=self.state.elapsed,
            trajectory=None,  # type: ignore[arg-type]  # built just below, from the result itself
            state=self.state.snapshot(),
        )
        result.trajectory = build_trajectory(
            result,
            task=self.task,
            model=self.model,
            config=self.config,
            tools=self.toolbox.specs,
            crash=self.crash,
        )
        return result
