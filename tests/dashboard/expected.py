"""The dashboard's figures computed again, independently, in plain Python from the rows.

Nothing here imports the dashboard's queries: only the definitions (docs on the page) are shared.
Percentiles are continuous, interpolated between the two nearest values (numpy's default).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from intents.models import Intent
from reviews.models import ChangeRequest, Review
from runs.models import AgentRun

DAY = timedelta(days=1)
ENDED = {"merged", "cancelled", "failed"}


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    pos = q * (len(values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def seconds(end: datetime | None, start: datetime | None) -> float | None:
    return None if end is None or start is None else (end - start).total_seconds()


def midnight(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def within(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


class Expected:
    def __init__(self, f: Any) -> None:
        self.f = f
        team = f.team
        self.all_intents = {
            row["id"]: row
            for row in Intent.objects.filter(team=team).values(
                "id", "title", "project_id", "labels", "status", "status_changed_at", "created_at", "merged_at", "author__username"
            )
        }
        self.all_runs = list(
            AgentRun.objects.filter(team=team).values(
                "id", "intent_id", "project_id", "model_id", "model__name", "status", "created_at", "started_at",
                "finished_at", "resolved", "reason", "outcome", "cost", "prompt_tokens", "completion_tokens", "priority",
                "dispatched_at", "worker",
            )
        )
        self.all_crs = list(
            ChangeRequest.objects.filter(team=team).values(
                "id", "intent_id", "project_id", "status", "created_at", "first_reviewed_at", "approved_at", "merged_at",
                "closed_at", "rounds", "edited_by_people",
            )
        )
        models_of = defaultdict(set)
        for run in self.all_runs:
            models_of[run["intent_id"]].add(run["model_id"])
        self.models_of = models_of
        self.intents = [i for i in self.all_intents.values() if self.intent_matches(i)]
        self.runs = [r for r in self.all_runs if self.run_matches(r)]
        self.crs = [c for c in self.all_crs if self.cr_matches(c)]

    # -- the filters, as the definitions state them --------------------------------------

    def _intent_fields_match(self, i: dict[str, Any]) -> bool:
        f = self.f
        return (
            (not f.project or i["project_id"] == f.project)
            and (not f.requester or i["author__username"] == f.requester)
            and (not f.label or f.label in i["labels"])
            and (not f.status or i["status"] == f.status)
        )

    def intent_matches(self, i: dict[str, Any]) -> bool:
        return self._intent_fields_match(i) and (not self.f.model or self.f.model in self.models_of[i["id"]])

    def run_matches(self, r: dict[str, Any]) -> bool:
        f = self.f
        return (not f.model or r["model_id"] == f.model) and self._intent_fields_match(self.all_intents[r["intent_id"]])

    def cr_matches(self, c: dict[str, Any]) -> bool:
        return self.intent_matches(self.all_intents[c["intent_id"]])

    # -- header ----------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        f, t = self.f, self.f.start
        cur = [i for i in self.intents if within(i["created_at"], f.start, f.end)]
        prev = [i for i in self.intents if within(i["created_at"], f.prev_start, f.start)]
        merged = [i for i in self.intents if i["status"] == "merged" and within(i["merged_at"], f.start, f.end)]
        merged_prev = [i for i in self.intents if i["status"] == "merged" and within(i["merged_at"], f.prev_start, f.start)]
        ttm = [seconds(i["merged_at"], i["created_at"]) for i in merged]
        ttm_prev = [seconds(i["merged_at"], i["created_at"]) for i in merged_prev]

        def rate(a: int, b: int) -> float | None:
            return a / (a + b) if a + b else None

        def undecided(c: dict[str, Any]) -> bool:
            return c["created_at"] <= t and all(c[k] is None or c[k] > t for k in ("first_reviewed_at", "closed_at", "merged_at"))

        crs_merged = sum(1 for c in self.crs if c["status"] == "merged" and within(c["merged_at"], f.start, f.end))
        crs_closed = sum(1 for c in self.crs if c["status"] == "closed" and within(c["closed_at"], f.start, f.end))
        crs_merged_prev = sum(1 for c in self.crs if c["status"] == "merged" and within(c["merged_at"], f.prev_start, f.start))
        crs_closed_prev = sum(1 for c in self.crs if c["status"] == "closed" and within(c["closed_at"], f.prev_start, f.start))
        month = f.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        prev_month = (month - DAY).replace(day=1)
        prev_end = min(prev_month + (f.now - month), month)
        return {
            "filed": (len(cur), len(prev)),
            "queued": (
                sum(1 for r in self.runs if r["status"] == "queued"),
                sum(1 for r in self.runs if r["created_at"] <= t and (r["started_at"] is None or r["started_at"] > t) and (r["finished_at"] is None or r["finished_at"] > t)),
            ),
            "running": (
                sum(1 for r in self.runs if r["status"] == "running"),
                sum(1 for r in self.runs if r["started_at"] is not None and r["started_at"] <= t and (r["finished_at"] is None or r["finished_at"] > t)),
            ),
            "awaiting_review": (sum(1 for i in self.intents if i["status"] == "in_review"), sum(1 for c in self.crs if undecided(c))),
            "merged": (len(merged), len(merged_prev)),
            "merge_rate": (rate(crs_merged, crs_closed), rate(crs_merged_prev, crs_closed_prev)),
            "ttm_p50": (percentile(ttm, 0.5), percentile(ttm_prev, 0.5)),
            "ttm_p75": (percentile(ttm, 0.75), percentile(ttm_prev, 0.75)),
            "spend": (
                sum((r["cost"] for r in self.all_runs if r["created_at"] >= month), Decimal(0)),
                sum((r["cost"] for r in self.all_runs if prev_month <= r["created_at"] < prev_end), Decimal(0)),
            ),
        }

    # -- workload ----------------------------------------------------------------------------

    def run_states(self) -> dict[str, Any]:
        f = self.f
        ended = [r for r in self.runs if within(r["finished_at"], f.start, f.end)]
        timed = [r for r in ended if r["started_at"] is not None]
        durations = [seconds(r["finished_at"], r["started_at"]) for r in timed]
        waits = [seconds(r["started_at"], r["created_at"]) for r in timed]
        out: dict[str, Any] = {s: sum(1 for r in self.runs if r["status"] == s) for s in ("queued", "running", "awaiting_plan")}
        out.update({s: sum(1 for r in ended if r["status"] == s) for s in ("done", "failed", "cancelled")})
        out.update(
            ended=len(ended),
            resolved=sum(1 for r in ended if r["resolved"] is True),
            duration_p50=percentile(durations, 0.5),
            duration_p95=percentile(durations, 0.95),
            wait_p50=percentile(waits, 0.5),
            wait_p95=percentile(waits, 0.95),
        )
        return out

    def queue(self) -> list[dict[str, Any]]:
        waiting = [r for r in self.runs if r["status"] == "queued"]
        by = defaultdict(list)
        for r in waiting:
            by[r["priority"]].append(r)
        return [
            {"priority": p, "waiting": len(rs), "dispatched": sum(1 for r in rs if r["dispatched_at"]), "oldest": min(r["created_at"] for r in rs)}
            for p, rs in sorted(by.items(), reverse=True)
        ]

    # -- flow ----------------------------------------------------------------------------------

    def cohort(self, since: datetime | None = None) -> list[dict[str, Any]]:
        f = self.f
        first_start: dict[int, datetime] = {}
        for r in self.all_runs:  # the first start of any of the intent's runs
            if r["started_at"] is not None:
                s = first_start.get(r["intent_id"])
                first_start[r["intent_id"]] = r["started_at"] if s is None else min(s, r["started_at"])
        cr_of = {c["intent_id"]: c for c in self.all_crs}
        rows = []
        for i in self.intents:
            if i["status"] == "merged" and within(i["merged_at"], since or f.start, f.end):
                cr = cr_of.get(i["id"], {})
                rows.append({
                    **i,
                    "started": first_start.get(i["id"]),
                    "opened": cr.get("created_at"),
                    "reviewed": cr.get("first_reviewed_at"),
                    "approved": cr.get("approved_at"),
                })
        return rows

    STAGES = [("queue", "started", "created_at"), ("run", "opened", "started"), ("pickup", "reviewed", "opened"),
              ("review", "approved", "reviewed"), ("merge", "merged_at", "approved"), ("total", "merged_at", "created_at")]

    def stages(self) -> dict[str, tuple[int, float | None, float | None]]:
        cohort = self.cohort()
        out = {}
        for key, end, start in self.STAGES:
            values = [v for v in (seconds(c[end], c[start]) for c in cohort) if v is not None]
            out[key] = (len(values), percentile(values, 0.5), percentile(values, 0.75))
        return out

    def stages_over_time(self) -> dict[Any, dict[str, Any]]:
        f = self.f
        by: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
        for c in self.cohort():
            day = midnight(c["merged_at"])
            if f.bucket == "week":
                day -= timedelta(days=day.weekday())
            by[day].append(c)
        out = {}
        for day, rows in by.items():
            out[day.date()] = {"merged": len(rows), **{key: percentile([seconds(c[e], c[s]) for c in rows], 0.5) for key, e, s in self.STAGES}}
        return out

    def rolling(self) -> list[tuple[datetime, int, float | None]]:
        f = self.f
        cohort = self.cohort(since=f.start - 6 * DAY)
        out, day = [], midnight(f.start)
        while day <= f.end:
            values = [seconds(c["merged_at"], c["created_at"]) for c in cohort if day - 6 * DAY <= c["merged_at"] < day + DAY]
            out.append((day, len(values), percentile(values, 0.5)))
            day += DAY
        return out

    def unfinished(self) -> tuple[Counter[str], list[int]]:
        f = self.f
        rows = [i for i in self.intents if within(i["created_at"], f.start, f.end) and i["status"] not in ENDED]
        oldest = [i["id"] for i in sorted(rows, key=lambda i: i["created_at"])[:10]]
        return Counter(i["status"] for i in rows), oldest

    def wip(self) -> list[int]:
        f = self.f
        out, day = [], midnight(f.start)
        while day < f.end:
            edge = min(day + DAY, f.end)
            out.append(sum(
                1 for i in self.intents
                if i["created_at"] < edge and not (i["status"] in ENDED and i["status_changed_at"] < edge)
            ))
            day += DAY
        return out

    # -- outcomes --------------------------------------------------------------------------------

    def outcomes(self) -> dict[str, Any]:
        f = self.f
        merged = [c for c in self.crs if c["status"] == "merged" and within(c["merged_at"], f.start, f.end)]
        closed = [c for c in self.crs if c["status"] == "closed" and within(c["closed_at"], f.start, f.end)]
        rounds = Counter(min(c["rounds"], 4) for c in merged + closed)
        return {
            "approved": sum(1 for c in self.crs if within(c["approved_at"], f.start, f.end)),
            "merged": len(merged),
            "closed": len(closed),
            "edited": sum(1 for c in merged if c["edited_by_people"]),
            "rounds": [rounds.get(n, 0) for n in range(1, 5)],
            "rounds_p50": percentile([c["rounds"] for c in merged + closed], 0.5),
            "rounds_p75": percentile([c["rounds"] for c in merged + closed], 0.75),
        }

    def failure_reasons(self) -> list[tuple[str, str, int]]:
        f = self.f
        counts: Counter[tuple[str, str]] = Counter()
        for r in self.runs:
            if r["status"] == "failed" and within(r["finished_at"], f.start, f.end):
                why = r["reason"].split("\n")[0][:120] or "(no reason given)"
                counts[(why, r["outcome"])] += 1
        return [(why, outcome, n) for (why, outcome), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))[:10]]

    # -- cost ------------------------------------------------------------------------------------

    def period_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if within(r["created_at"], self.f.start, self.f.end)]

    def spend_by_day(self) -> dict[tuple[Any, str], tuple[Decimal, int]]:
        out: dict[tuple[Any, str], tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
        for r in self.period_runs():
            key = (r["created_at"].date(), r["model__name"])
            cost, tok = out[key]
            out[key] = (cost + r["cost"], tok + r["prompt_tokens"] + r["completion_tokens"])
        return dict(out)

    def cost_per_intent(self) -> dict[str, Any]:
        per: dict[int, Decimal] = defaultdict(Decimal)
        for r in self.period_runs():
            per[r["intent_id"]] += r["cost"]
        merged_ids = {c["id"] for c in self.cohort()}
        per_merged: dict[int, Decimal] = defaultdict(Decimal)
        for r in self.runs:
            if r["intent_id"] in merged_ids:
                per_merged[r["intent_id"]] += r["cost"]
        return {
            "worked": (len(per), sum(per.values(), Decimal(0)), percentile([float(v) for v in per.values()], 0.5), percentile([float(v) for v in per.values()], 0.75)),
            "merged": (len(per_merged), sum(per_merged.values(), Decimal(0)), percentile([float(v) for v in per_merged.values()], 0.5), percentile([float(v) for v in per_merged.values()], 0.75)),
            "top": [i for i, _ in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
            "top_cost": [c for _, c in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
        }

    # -- people ----------------------------------------------------------------------------------

    def requesters(self) -> dict[str, tuple[int, int, float | None]]:
        f = self.f
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for i in self.intents:
            if i["author__username"]:
                by[i["author__username"]].append(i)
        out = {}
        for person, rows in by.items():
            filed = sum(1 for i in rows if within(i["created_at"], f.start, f.end))
            merged = [i for i in rows if i["status"] == "merged" and within(i["merged_at"], f.start, f.end)]
            if filed or merged:
                out[person] = (filed, len(merged), percentile([seconds(i["merged_at"], i["created_at"]) for i in merged], 0.5))
        return out

    def reviewers(self) -> dict[str, tuple[int, int]]:
        f = self.f
        crs = {c["id"] for c in self.crs}
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for rv in Review.objects.filter(change_request__team=f.team).values("change_request_id", "created_at", "decision", "reviewer__username"):
            if rv["change_request_id"] in crs and within(rv["created_at"], f.start, f.end) and rv["reviewer__username"]:
                out[rv["reviewer__username"]][0] += 1
                out[rv["reviewer__username"]][1] += rv["decision"] == "approve"
        return {k: (v[0], v[1]) for k, v in out.items()}
