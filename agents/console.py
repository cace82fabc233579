"""Events as a person reads them in a terminal: the CLI's event sink."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from agents.events import Event

RESET, DIM, BOLD, RED, GREEN, YELLOW, CYAN = (
    "\033[0m",
    "\033[2m",
    "\033[1m",
    "\033[31m",
    "\033[32m",
    "\033[33m",
    "\033[36m",
)
PREVIEW_LINES = 12


class ConsolePrinter:
    def __init__(self, out: TextIO = sys.stdout, *, color: bool | None = None) -> None:
        self.out = out
        self.color = out.isatty() if color is None else color
        self.in_message = False
        self.at_line_start = True
        self.last_message = ""

    def _paint(self, text: str, *styles: str) -> str:
        return f"{''.join(styles)}{text}{RESET}" if self.color and styles else text

    def _write(self, text: str, *styles: str) -> None:
        if text:
            self.out.write(self._paint(text, *styles))
            self.at_line_start = text.endswith("\n")
            self.out.flush()

    def _line(self, text: str, *styles: str) -> None:
        if not self.at_line_start:
            self._write("\n")
        self.in_message = False
        self._write(text.rstrip("\n") + "\n", *styles)

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event.payload)

    def _on_status(self, p: dict[str, Any]) -> None:
        if p.get("status") == "finished":
            return
        self._line(f"▸ {p.get('status')}: {p.get('detail', '')}", DIM)

    def _on_plan(self, p: dict[str, Any]) -> None:
        plan = p.get("plan", "").strip()
        title = "plan, waiting for approval" if p.get("awaiting_approval") else "plan"
        if plan == self.last_message:  # it has just streamed by: do not print it twice
            self._line(f"▸ {title} ({len(p.get('steps', []))} steps)", CYAN)
        else:
            self._line(f"▸ {title}:\n{plan}", CYAN)

    def _on_message(self, p: dict[str, Any]) -> None:
        if "delta" in p:
            if not self.in_message:
                self._write("\n")  # a blank line sets the model's words apart
                self.in_message = True
            self._write(p["delta"])
        else:
            self.last_message = p.get("content", "").strip()
            if not self.at_line_start:
                self._write("\n")
            self.in_message = False

    def _on_tool_call(self, p: dict[str, Any]) -> None:
        args = p.get("arguments") or {}
        if p.get("name") == "bash" and isinstance(args, dict):
            self._line(f"$ {args.get('command', '')}", BOLD)
        else:
            shown = json.dumps(args, ensure_ascii=False)
            self._line(f"→ {p.get('name')} {shown[:300]}", BOLD)

    def _on_command_output(self, p: dict[str, Any]) -> None:
        self._write(p.get("chunk", ""), DIM)

    def _on_tool_result(self, p: dict[str, Any]) -> None:
        output: str = p.get("output", "")
        lines = output.rstrip().splitlines() or [""]
        style = RED if p.get("error") else DIM
        if p.get("name") == "run_tests":
            return  # its test_result event has said it
        if p.get("name") == "bash":
            self._line(lines[-1], style)  # the output itself streamed by; the exit code is news
            return
        shown = lines[:PREVIEW_LINES] + (
            [f"[... {len(lines) - PREVIEW_LINES} more lines]"] if len(lines) > PREVIEW_LINES else []
        )
        self._line("\n".join(shown), style)

    def _on_test_result(self, p: dict[str, Any]) -> None:
        self._line(f"tests ({p.get('phase')}): {p.get('summary')}", GREEN if p.get("ok") else RED)

    def _on_error(self, p: dict[str, Any]) -> None:
        self._line(f"error: {p.get('message')}", RED if p.get("recoverable") is None else YELLOW)

    def _on_condensed(self, p: dict[str, Any]) -> None:
        self._line(f"… {p.get('summary')}", DIM)
