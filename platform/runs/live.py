"""A run's events as the run page shows them, for the first page load and the live feed alike.

``RunFold`` reads events in sequence order. For the page it keeps blocks (the
timeline's items) and the panels (plan, tests, usage); for the websocket it
turns each event into ``Op``s: HTML fragments swapped in by element id (append
a block to the timeline, replace a panel's content, append output text). Both
render the same templates, so a reload shows exactly what the live feed built.

A consumer that resumes after sequence number N primes a fold with the events up
to N (``light_events``: ids and names, not the output text), so the first event
after N lands in the element the browser already has.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from django.db.models.fields.json import KT
from django.template.loader import render_to_string
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from runs import highlight
from runs.checklist import Plan, call_kind
from runs.models import RunEvent

EVENT_TEMPLATE = "runs/_event.html"
PANEL_TEMPLATE = "runs/_panels.html"
STREAMING_LIMIT = 200_000  # characters of a streamed message kept for the page
SHORT_OUTPUT_LINES = 12  # a tool's output this short is shown open


@dataclass
class Op:
    swap: str
    """``append`` (a block to the timeline), ``inner`` (replace an element's content), ``text``
    (append text to an element) or ``outer`` (``html`` is the whole new element, marked oob)."""
    target: str
    html: str = ""
    template: str = ""
    """When set, ``html`` is rendered from it and ``context`` on first use: a panel replaced
    again later in the same frame is never rendered at all (see ``join``)."""
    context: dict[str, Any] | None = None

    def content(self) -> str:
        if self.template:
            self.html = render_to_string(self.template, self.context)
            self.template, self.context = "", None
        return self.html

    def __str__(self) -> str:
        if self.swap == "text":
            return f'<span hx-swap-oob="beforeend:#{self.target}">{escape(self.html)}</span>'
        if self.swap == "outer":
            return self.content()
        if self.swap == "append":
            return f'<div hx-swap-oob="beforeend:#{self.target}">{self.content()}</div>'
        return f'<div hx-swap-oob="innerHTML:#{self.target}">{self.content()}</div>'


@dataclass
class Block:
    """One item of the timeline."""

    seq: int
    kind: str
    payload: dict[str, Any]
    chunks: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    tests: dict[str, Any] | None = None

    @property
    def dom_id(self) -> str:
        return f"ev-{self.seq}"

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def name(self) -> str:
        return str(self.payload.get("name", ""))

    @property
    def args(self) -> dict[str, Any]:
        args = self.payload.get("arguments")
        return args if isinstance(args, dict) else {}

    @cached_property
    def args_html(self) -> SafeString:
        return highlight.arguments(self.name, self.args)

    @cached_property
    def result_html(self) -> SafeString:
        return highlight.result(self.name, self.args, str((self.result or {}).get("output", "")))

    @property
    def result_open(self) -> bool:
        result = self.result or {}
        return bool(result.get("error")) or str(result.get("output", "")).count("\n") < SHORT_OUTPUT_LINES


class RunFold:
    """The run page's state, built event by event."""

    def __init__(self, run_id: int, *, keep: bool = False) -> None:
        self.run_id = run_id
        self.keep = keep  # keep blocks and output text: for the page, not for the websocket
        self.blocks: list[Block] = []
        self._blocks: dict[int, Block] = {}
        self.calls: dict[str, int] = {}  # tool call id -> the seq of its block
        self.call_info: dict[int, tuple[str, dict[str, Any]]] = {}  # block seq -> (tool, arguments that matter)
        self.outputs: dict[str, int] = {}  # output id of no tool call (setup, baseline, final) -> its block
        self.plan = Plan()
        self.phase: dict[str, Any] | None = None
        self.tests: dict[str, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.streaming: list[str] = []
        self.last_seq = 0

    # -- events ------------------------------------------------------------------------

    def apply(self, seq: int, kind: str, payload: dict[str, Any], *, render: bool = True) -> list[Op]:
        """Take one event; return what the browser must change (nothing when ``render`` is off)."""
        self.last_seq = seq
        handler = getattr(self, f"_on_{kind}", self._on_other)
        ops: list[Op] = handler(seq, kind, payload, render)
        return ops if render else []

    def _block(self, seq: int, kind: str, payload: dict[str, Any], render: bool, **extra: Any) -> list[Op]:
        block = Block(seq, kind, payload, **extra)
        if self.keep:
            self.blocks.append(block)
            self._blocks[seq] = block
        return [Op("append", "timeline", render_block(block))] if render else []

    def _on_other(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        return self._block(seq, kind, payload, render)

    def _on_status(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        self.phase = payload
        ops = self._block(seq, kind, payload, render)
        if payload.get("status") == "finished" and payload.get("outcome") == "submitted" and self.plan.finish():
            ops += self._panel("plan", render)
        return ops + self._panel("phase", render)

    def _on_plan(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        self.plan.set(payload)
        return self._block(seq, kind, payload, render) + self._panel("plan", render)

    def _on_message(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        if "delta" in payload:
            if self.keep and sum(map(len, self.streaming)) < STREAMING_LIMIT:
                self.streaming.append(str(payload["delta"]))
            return [Op("text", "streaming-text", str(payload["delta"]))] if render else []
        self.streaming = []
        return self._block(seq, kind, payload, render) + self._panel("streaming", render)

    def _on_tool_call(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        name = str(payload.get("name", ""))
        args = payload.get("arguments") if isinstance(payload.get("arguments"), dict) else {}
        self.calls[str(payload.get("id", ""))] = seq
        self.call_info[seq] = (name, {"path": args["path"]} if "path" in args else {})
        ops = self._block(seq, kind, payload, render)
        if self.plan.advance(call_kind(name, args)):
            ops += self._panel("plan", render)
        return ops

    def _on_command_output(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        ident = str(payload.get("id", ""))
        chunk = str(payload.get("chunk", ""))
        target = self.calls.get(ident) or self.outputs.get(ident)
        if target is None:
            self.outputs[ident] = seq
            return self._block(seq, "output", {"id": ident}, render, chunks=[chunk])
        if self.keep:
            self._blocks[target].chunks.append(chunk)
        return [Op("text", f"out-{target}", chunk)] if render else []

    def _on_tool_result(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        target = self.calls.get(str(payload.get("id", "")))
        if target is None:  # a result without its call (an old run): show it on its own
            return self._block(seq, kind, payload, render)
        if self.keep:
            self._blocks[target].result = payload
        if not render:
            return []
        name, args = self.call_info[target]
        block = Block(target, "tool_call", {"name": name, "arguments": args}, result=payload)
        return [
            Op("inner", f"body-{target}", render_call(block, "call_body")),
            Op("inner", f"state-{target}", render_call(block, "call_state")),
        ]

    def _on_test_result(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        phase = str(payload.get("phase", ""))
        self.tests["latest" if phase in ("step", "submit") else phase] = payload
        ops = self._block(seq, kind, payload, render)
        output_block = self.outputs.pop(phase, None)
        if output_block is not None:
            if self.keep:
                self._blocks[output_block].tests = payload
            if render:
                block = Block(output_block, "output", {"id": phase}, tests=payload)
                ops.append(Op("inner", f"state-{output_block}", render_call(block, "output_state")))
        return ops + self._panel("tests", render)

    def _on_usage(self, seq: int, kind: str, payload: dict[str, Any], render: bool) -> list[Op]:
        self.usage = payload
        return self._panel("usage", render)

    # -- panels ---------------------------------------------------------------------------

    def _panel(self, name: str, render: bool) -> list[Op]:
        if not render:
            return []
        # The panel as it is now, rendered only if no later op replaces it in the same frame.
        now = SimpleNamespace(
            plan=copy.copy(self.plan),
            tests=dict(self.tests),
            usage=self.usage,
            phase=self.phase,
            streaming_text=self.streaming_text,
        )
        return [Op("inner", f"run-{name}", template=f"{PANEL_TEMPLATE}#{name}", context={"fold": now})]

    @property
    def streaming_text(self) -> str:
        return "".join(self.streaming)


def join(ops: list[Op]) -> str:
    """Ops as one piece of a frame, for the browser to apply in as few swaps as it can: a replaced
    element only in its last version, and consecutive appends to one element in one piece. (No op
    targets an element inside what a later op of the same target replaces, so dropping the earlier
    replacements changes nothing.)"""
    last = {op.target: i for i, op in enumerate(ops) if op.swap in ("inner", "outer")}
    out: list[str] = []
    run: list[Op] = []  # consecutive appends (or text appends) to one target

    def close_run() -> None:
        if run:
            out.append(str(Op(run[0].swap, run[0].target, "".join(op.content() for op in run))))
            run.clear()

    for i, op in enumerate(ops):
        if op.swap in ("append", "text"):
            if run and (run[0].swap, run[0].target) != (op.swap, op.target):
                close_run()
            run.append(op)
            continue
        close_run()
        if last[op.target] == i:
            out.append(str(op))
    close_run()
    return "".join(out)


def render_block(block: Block) -> str:
    return render_to_string(f"{EVENT_TEMPLATE}#block", {"b": block})


def render_call(block: Block, part: str) -> str:
    return render_to_string(f"{EVENT_TEMPLATE}#{part}", {"b": block})


def cursor(seq: int, status: str) -> str:
    """The last event the browser has; live.js sends it back when the socket reconnects."""
    return format_html('<span id="run-cursor" hidden data-seq="{}" data-status="{}" hx-swap-oob="true"></span>', seq, status)


# -- reading events ------------------------------------------------------------------------

Row = tuple[int, str, dict[str, Any]]
# Kinds whose payload may be large and whose text the fold needs only for rendering.
_BULKY = ("command_output", "message", "tool_result")


def events_after(run_id: int, after: int, upto: int | None = None) -> list[Row]:
    rows = RunEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    return [(seq, kind, payload) for seq, kind, payload in rows.values_list("seq", "kind", "payload")]


def light_events(run_id: int, upto: int, after: int = 0) -> list[Row]:
    """Events after ``after`` up to ``upto`` with only what a fold needs to route later events
    (no output text)."""
    rows = RunEvent.objects.filter(run_id=run_id, seq__gt=after, seq__lte=upto)
    full = rows.exclude(kind__in=_BULKY).values_list("seq", "kind", "payload")
    light = rows.filter(kind__in=_BULKY).values_list("seq", "kind", KT("payload__id"), KT("payload__final"))
    out: list[Row] = [(seq, kind, payload) for seq, kind, payload in full]
    for seq, kind, ident, final in light:
        if kind == "message":
            out.append((seq, kind, {"content": "", "final": True} if final else {"delta": ""}))
        else:
            out.append((seq, kind, {"id": ident}))
    out.sort(key=lambda row: row[0])
    return out


def primed(run_id: int, upto: int) -> RunFold:
    fold = RunFold(run_id)
    for seq, kind, payload in light_events(run_id, upto) if upto > 0 else ():
        fold.apply(seq, kind, payload, render=False)
    return fold


def page_fold(run_id: int, rows: Iterable[Row] | None = None) -> RunFold:
    """Every event of the run folded into blocks and panels: the page's first render."""
    fold = RunFold(run_id, keep=True)
    for seq, kind, payload in rows if rows is not None else events_after(run_id, 0):
        fold.apply(seq, kind, payload, render=False)
    return fold


def diff_view(run: Any) -> Any:
    """The run's diff for the page, once it has one (the change request page parses it the same way)."""
    if not run.diff:
        return None
    from reviews.diffs import parse

    return parse(run.diff)


def run_ops(run: Any, diff: Any = None) -> list[Op]:
    """What the page shows of the run row itself, after a change of status."""
    from django.urls import reverse

    ops = [Op("inner", "run-head", render_to_string(f"{PANEL_TEMPLATE}#head", {"run": run}))]
    url = reverse("run_detail", args=[run.pk])
    # Forms and role checks belong to the viewer's own request: the browser fetches these again.
    for part, css in (("actions", "actions"), ("approval", "")):
        ops.append(
            Op(
                "outer",
                f"run-{part}",
                format_html(
                    '<div id="run-{}" class="{}" hx-get="{}?part={}" hx-trigger="load" hx-swap="outerHTML" hx-swap-oob="true"></div>',
                    part,
                    css,
                    url,
                    part,
                ),
            )
        )
    if diff is not None:
        ops.append(Op("inner", "run-diff", render_to_string(f"{PANEL_TEMPLATE}#diff", {"diff_view": diff})))
    return ops
