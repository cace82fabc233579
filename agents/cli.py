"""``python -m agents run``: the same agent the platform runs, headless, on a local repository.

The agent works on the repository in place, inside a sandbox: run it on a
clean checkout (or a worktree) and review the change with ``git diff``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from agents.config import AgentConfig, ModelConfig
from agents.console import ConsolePrinter
from agents.llm import make_model
from agents.loop import run_agent
from agents.redact import Redactor
from agents.sandbox.base import LABEL_RUN, Backend, SandboxError, SandboxSpec
from agents.task import RunResult, Task

DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agents", description="Slipway's coding agent, headless.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="work on a repository until the task is done or a budget runs out")
    run.add_argument("--repo", required=True, type=Path, help="the repository to change (in place)")
    run.add_argument("--intent", required=True, help="what you want, in a line")
    run.add_argument("--description", default="", help="more about it (Markdown)")
    run.add_argument("--acceptance", default="", help="how you will know it is done")
    run.add_argument(
        "--test-cmd", default="", help="the test command, run in the repository (e.g. 'python3 -m pytest -q')"
    )
    run.add_argument("--model", required=True, help="the model's name on the server")
    run.add_argument(
        "--base-url", default=None, help="the server's URL (OpenAI-compatible ones usually end in /v1)"
    )
    run.add_argument("--provider", choices=["openai", "anthropic"], default="openai")
    run.add_argument(
        "--api-key-env", default=None, help="environment variable holding the API key (default by provider)"
    )
    run.add_argument("--sandbox", choices=["auto", "docker", "bubblewrap"], default="auto")
    run.add_argument("--image", default="slipway-sandbox:latest", help="sandbox image (docker)")
    run.add_argument(
        "--out", type=Path, default=Path("trajectory.jsonl"), help="JSONL file the trajectory is appended to"
    )
    run.add_argument("--max-steps", type=int, default=AgentConfig.max_steps)
    run.add_argument("--max-cost", type=float, default=0.0, help="spend limit (0 = none)")
    run.add_argument("--max-tokens", type=int, default=0, help="token limit (0 = none)")
    run.add_argument(
        "--timeout", type=float, default=AgentConfig.wall_clock, help="wall-clock seconds for the run"
    )
    run.add_argument("--context-window", type=int, default=ModelConfig.context_window)
    run.add_argument(
        "--request-timeout", type=float, default=ModelConfig.request_timeout, help="seconds per model request"
    )
    run.add_argument(
        "--max-retries", type=int, default=ModelConfig.max_retries, help="retries after 429, 5xx, timeouts"
    )
    run.add_argument("--input-cost", type=float, default=0.0, help="price of one prompt token")
    run.add_argument("--output-cost", type=float, default=0.0, help="price of one completion token")
    run.add_argument(
        "--text-mode", action="store_true", help="no native tool calls: one shell block per reply"
    )
    run.add_argument("--no-stream", action="store_true", help="ask for whole replies instead of streams")
    run.add_argument("--no-plan", action="store_true", help="skip the plan")
    run.add_argument("--approve-plan", action="store_true", help="show the plan and ask before acting")
    return parser


def choose_backend(name: str, image: str) -> Backend:
    """The named backend, or for ``auto`` docker where a daemon answers, else bubblewrap."""
    from agents.sandbox import get_backend  # the docker backend pulls in its SDK: only when running

    backend = get_backend(name, image=image) if name in ("auto", "docker") else get_backend(name)
    problem = backend.check()
    if problem:
        raise SandboxError(f"the {name} sandbox is not usable: {problem}")
    return backend


def ask_approval(plan: str) -> str | None:
    """The approved (maybe edited) plan, or None to stop. Only asks on a terminal."""
    if not sys.stdin.isatty():
        return None
    answer = input("\nApprove this plan? [y]es / [e]dit / [n]o: ").strip().lower()
    if answer.startswith("y"):
        return plan
    if answer.startswith("e"):
        print("Type the plan; end with an empty line.")
        lines = iter(input, "")
        return "\n".join(lines) or plan
    return None


def report(result: RunResult, out: Path | None) -> None:
    reward = result.reward
    print()
    print(f"outcome: {result.outcome} ({result.reason})")
    if result.summary:
        print(f"summary: {result.summary}")
    if result.final is not None:
        print(
            f"tests: before {result.baseline.summary() if result.baseline else 'not run'}; after {result.final.summary()}"
        )
    if reward is not None:
        diff = (
            f", diff {reward.diff.files} files +{reward.diff.additions} -{reward.diff.deletions}"
            if reward.diff
            else ""
        )
        print(
            f"reward: resolved={reward.resolved} newly passing={len(reward.newly_passing)} regressions={len(reward.regressions)}{diff}"
        )
    usage = result.usage
    print(
        f"usage: {result.steps} steps, {usage.total_tokens} tokens, cost {usage.cost:.4f}, {result.elapsed:.1f} s"
    )
    if out is not None:
        print(f"trajectory: {out}")


def run(args: argparse.Namespace) -> int:
    repo = args.repo.resolve()
    if not repo.is_dir():
        print(f"no such repository: {repo}", file=sys.stderr)
        return 2
    key_env = args.api_key_env or DEFAULT_KEY_ENV[args.provider]
    if args.api_key_env and args.api_key_env not in os.environ:
        print(f"the environment variable {args.api_key_env} is not set", file=sys.stderr)
        return 2
    model_config = ModelConfig(
        model=args.model,
        provider=args.provider,
        base_url=args.base_url,
        api_key=os.environ.get(key_env, ""),
        input_cost_per_token=args.input_cost,
        output_cost_per_token=args.output_cost,
        context_window=args.context_window,
        request_timeout=args.request_timeout,
        max_retries=args.max_retries,
        stream=not args.no_stream,
        tool_mode="text" if args.text_mode else "native",
    )
    config = AgentConfig(
        max_steps=args.max_steps,
        max_cost=args.max_cost,
        max_tokens=args.max_tokens,
        wall_clock=args.timeout,
        plan=not args.no_plan,
        require_plan_approval=args.approve_plan,
    )
    task = Task(
        title=args.intent,
        description=args.description,
        acceptance_criteria=args.acceptance,
        test_command=args.test_cmd,
    )
    try:
        backend = choose_backend(args.sandbox, args.image)
    except SandboxError as exc:
        print(exc, file=sys.stderr)
        return 2
    cancelled = False

    def cancel(signum: int, frame: FrameType | None) -> None:
        nonlocal cancelled
        if cancelled:
            raise KeyboardInterrupt
        cancelled = True
        print("\ncancelling after the current step (Ctrl-C again to abort)", file=sys.stderr)

    signal.signal(signal.SIGINT, cancel)
    spec = SandboxSpec(workspace=repo, image=args.image, labels={LABEL_RUN: f"cli-{uuid.uuid4().hex[:12]}"})
    printer = ConsolePrinter()
    model = make_model(model_config)
    with backend.start(spec) as sandbox:
        result = run_agent(
            task, sandbox=sandbox, model=model, config=config, sink=printer, should_cancel=lambda: cancelled
        )
        while result.outcome == "awaiting_plan_approval":
            approved = ask_approval(result.plan or "")
            if approved is None:
                break
            task = replace(task, approved_plan=approved)
            result = run_agent(
                task, sandbox=sandbox, model=model, config=config, sink=printer,
                should_cancel=lambda: cancelled, resume=result.state,
            )  # fmt: skip
    if args.out is not None:
        result.trajectory.write(args.out, redactor=Redactor([model_config.api_key]))
    report(result, args.out)
    resolved = result.reward is None or result.reward.resolved is not False
    return 0 if result.outcome == "submitted" and resolved else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)
