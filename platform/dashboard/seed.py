"""Demo and benchmark data: several teams whose agents have worked on intents for months.

Each intent is simulated from filing to merge (queue wait, attempts, review rounds, merge) with
random but plausible durations, then cut at "now": whatever had not happened yet is still
queued, running, in review. Rows go in with COPY; events are generated inside PostgreSQL.
"""

from __future__ import annotations

import math
import random
import secrets
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Membership, Role, Team
from dashboard.copy import CopyTable, allocate_ids
from intents.models import Intent
from projects.models import Project
from reviews.models import ChangeRequest, Review, ReviewComment
from runs.models import AgentRun, ModelConfig, RunEvent, Worker

TEAM_NAMES = ["Platform", "Payments", "Mobile", "Data", "Growth", "Infra", "Search", "Identity", "Billing", "Docs"]
PROJECT_NAMES = ["api", "web", "worker", "billing", "auth", "search", "mobile-app", "infra", "docs", "sdk", "etl", "admin"]
MODELS = [
    # name, provider, model, input and output price per million tokens, share of runs
    ("Claude Sonnet", "anthropic", "claude-sonnet-4-5", Decimal("3"), Decimal("15"), 0.5),
    ("GPT-4.1", "openai", "gpt-4.1", Decimal("2"), Decimal("8"), 0.3),
    ("Qwen Coder (on-prem)", "openai", "qwen2.5-coder-32b", Decimal("0.2"), Decimal("0.6"), 0.2),
]
LABELS = ["bug", "feature", "refactor", "tests", "docs", "security", "perf", "ui", "deps", "flaky", "api", "migration"]
VERBS = ["Fix", "Add", "Refactor", "Speed up", "Document", "Remove", "Upgrade", "Handle", "Validate", "Test"]
THINGS = [
    "retry logic in the webhook sender", "pagination of the orders endpoint", "the flaky checkout test",
    "timezone handling in reports", "N+1 queries on the team page", "password reset emails", "the CSV importer",
    "rate limiting for the public API", "dark mode on settings", "the deprecated payment client", "session expiry",
    "search ranking for exact matches", "the nightly export job", "input validation on sign-up", "cache invalidation",
    "error messages in the CLI", "the audit log filters", "unicode in file names", "the health check",
]
FAILURES = [
    # reason, outcome, weight
    ("the tests still fail after the step budget of 50 steps", "limits_exceeded", 30),
    ("cost budget of $5.00 exceeded", "limits_exceeded", 12),
    ("wall-clock limit reached (1800.0 s of 1800 s)", "time_exceeded", 14),
    ("the agent submitted without changing anything", "submitted", 10),
    ("model server error: 429 Too Many Requests (retries spent)", "model_error", 9),
    ("the prompt is longer than the model's context window", "context_exceeded", 5),
    ("too many malformed replies in a row", "format_error", 6),
    ("the setup command failed with exit code 1: npm ERR! code ERESOLVE\nnpm ERR! could not resolve", "error", 8),
    ("sandbox error: the container was killed (out of memory)", "error", 4),
    ("internal error: ConnectionResetError: [Errno 104] Connection reset by peer", "error", 2),
]
WORKERS = [f"agents@demo-worker-{i}" for i in range(1, 7)]
WORKER_SLOTS = 4
DAY = 86400.0


@dataclass
class SeedConfig:
    intents: int = 2000
    teams: int = 4
    days: int = 180
    events_per_run: float = 10.0
    seed: int = 1
    password: str = "demo-password-1"
    chunk: int = 5000
    now: datetime | None = None


@dataclass
class TeamSetup:
    team: Team
    projects: list[Project]
    models: list[ModelConfig]
    people: list[tuple[int, str]]  # (user id, role)
    intents: int
    lead: str


@dataclass
class Summary:
    teams: list[TeamSetup] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Weighted:
    """random.choices for a fixed population, drawn many times: bisect on cumulative weights."""

    def __init__(self, population: list[Any], weights: list[float]) -> None:
        self.population = population
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.population[bisect(self.cum, rng.random() * self.total)]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma)


class Simulator:
    """One intent's life from filing to merge, as timestamps, cut at ``now``."""

    def __init__(self, rng: random.Random, setup: TeamSetup, config: SeedConfig, now: float) -> None:
        self.rng = rng
        self.setup = setup
        self.config = config
        self.now = now
        first_day = math.floor((now - config.days * DAY) / DAY) * DAY
        days = list(range(config.days + 1))
        # Adoption grows over the months; weekends are quiet; people file in working hours.
        weights = [
            (0.6 + 0.8 * d / max(config.days, 1)) * (0.25 if datetime.fromtimestamp(first_day + d * DAY, tz=UTC).weekday() >= 5 else 1.0)
            for d in days
        ]
        self.day = Weighted([first_day + d * DAY for d in days], weights)
        self.hour = Weighted(list(range(24)), [0.2] * 7 + [1, 3, 5, 5, 4, 3, 4, 5, 5, 4, 3, 2, 1, 0.6, 0.4, 0.3, 0.2])
        n_people = len(setup.people)
        self.author = Weighted(setup.people, [1 / (i + 1) ** 0.7 for i in range(n_people)])
        self.reviewer = Weighted(setup.people, [3 if role in (Role.OWNER, Role.MAINTAINER) else 1 for _, role in setup.people])
        self.model = Weighted(setup.models, [m[5] for m in MODELS][: len(setup.models)])
        self.project = Weighted(setup.projects, [1 / (i + 1) ** 0.5 for i in range(len(setup.projects))])
        self.attempts = Weighted([1, 2, 3, 4, 5], [0.2, 0.2, 0.36, 0.12, 0.12])
        self.priority = Weighted([0, 1, 2, 3], [0.15, 0.6, 0.2, 0.05])
        self.label_count = Weighted([0, 1, 2, 3], [0.2, 0.45, 0.25, 0.1])
        self.failure = Weighted(FAILURES, [w for *_, w in FAILURES])

    # -- pieces ---------------------------------------------------------------------

    def filed_at(self) -> float:
        t = self.day.pick(self.rng) + self.hour.pick(self.rng) * 3600 + self.rng.random() * 3600
        return t if t < self.now else self.now - self.rng.random() * 3 * 3600

    def run(self, intent: dict[str, Any], created: float, round_: int, attempt: int, kind: str) -> dict[str, Any]:
        rng = self.rng
        start = created + _lognormal(rng, 90, 1.3)
        duration = _lognormal(rng, 540 if kind == "implement" else 360, 0.6)
        pause = _lognormal(rng, 1200, 1.0) if intent["requires_plan_approval"] and kind == "implement" else 0.0
        end = start + duration + pause
        draw = rng.random()
        status = "done" if draw < 0.72 else ("failed" if draw < 0.95 else "cancelled")
        model = self.model.pick(rng)
        steps = max(2, min(80, round(duration / 30)))
        prompt = int(steps * _lognormal(rng, 9000, 0.35))
        completion = int(steps * _lognormal(rng, 500, 0.45))
        reason, outcome, resolved = "", "submitted", None
        if status == "done":
            resolved = rng.random() < 0.82
        elif status == "failed":
            reason, outcome, _ = self.failure.pick(rng)
            resolved = False if rng.random() < 0.6 else None
        else:
            reason, outcome = "cancelled", "cancelled"
        return {
            "intent": intent,
            "created": created,
            "start": start,
            "pause_from": start + 60 if pause else None,
            "pause_to": start + 60 + pause if pause else None,
            "end": end,
            "status": status,
            "round": round_,
            "attempt": attempt,
            "kind": kind,
            "model": model,
            "steps": steps,
            "prompt": prompt,
            "completion": completion,
            "reason": reason,
            "outcome": outcome,
            "resolved": resolved,
            "worker": f"{WORKERS[rng.randrange(len(WORKERS) - 1)].split('@')[1]}:{rng.randrange(1000, 1100)}",
        }

    # -- one intent -----------------------------------------------------------------

    def intent(self, filed: float) -> dict[str, Any]:
        rng = self.rng
        author_id, _ = self.author.pick(rng)
        intent: dict[str, Any] = {
            "setup": self.setup,
            "filed": filed,
            "project": self.project.pick(rng),
            "author": author_id,
            "title": f"{rng.choice(VERBS)} {rng.choice(THINGS)}",
            "priority": self.priority.pick(rng),
            "labels": rng.sample(LABELS, self.label_count.pick(rng)),
            "attempts": self.attempts.pick(rng),
            "requires_plan_approval": rng.random() < 0.1,
            "transitions": [],
            "runs": [],
            "cr": None,
            "reviews": [],
            "comments": [],
            "failure": "",
        }
        moves: list[tuple[float, str]] = intent["transitions"]
        if rng.random() < 0.03:
            moves.append((filed, "draft"))
            if rng.random() < 0.3:
                moves.append((filed + _lognormal(rng, DAY, 1.0), "cancelled"))
            return intent
        moves.append((filed, "queued"))
        round_, round_start, retried, n = 1, filed + rng.random() * 5, False, intent["attempts"]
        cr: dict[str, Any] | None = None
        while True:
            kind = "implement" if round_ == 1 else "revise"
            runs = [self.run(intent, round_start, round_, a, kind) for a in range(1, n + 1)]
            intent["runs"].extend(runs)
            moves.append((min(r["start"] for r in runs), "running"))
            round_end = max(r["end"] for r in runs)
            done = [r for r in runs if r["status"] == "done"]
            if not done:
                failed = [r for r in runs if r["status"] == "failed"]
                if not retried and rng.random() < 0.35:
                    # A person reads the failure and retries one attempt, some time later.
                    retried, n = True, 1
                    moves.append((round_end, "failed" if failed else "cancelled"))
                    round_start = round_end + _lognormal(rng, 1800, 1.0)
                    moves.append((round_start, "queued"))
                    continue
                if cr is not None:
                    cr["closed"] = round_end
                if failed:
                    moves.append((round_end, "failed"))
                    intent["failure"] = failed[0]["reason"]
                else:
                    moves.append((round_end, "cancelled"))
                break
            best = min(done, key=lambda r: (not r["resolved"], r["prompt"]))
            if cr is None:
                cr = {"created": round_end, "versions": [], "first_reviewed": None, "approved": None, "approved_by": None,
                      "merged": None, "merged_by": None, "closed": None, "edited": False}
                intent["cr"] = cr
            cr["versions"].append((round_end, round_, best))
            moves.append((round_end, "in_review"))
            review_at = round_end + _lognormal(rng, 2700 if round_ == 1 else 1800, 1.2)
            if cr["first_reviewed"] is None:
                cr["first_reviewed"] = review_at
            reviewer = self._reviewer(intent["author"])
            if rng.random() < 0.45:
                # Questions first, the decision later.
                intent["reviews"].append({"round": round_, "reviewer": reviewer, "decision": "comment", "at": review_at})
                review_at += _lognormal(rng, 1500, 1.0)
            draw = rng.random()
            approve, changes = {1: (0.68, 0.24), 2: (0.8, 0.15)}.get(round_, (0.85, 0.08))
            if round_ >= 4:
                approve, changes = 0.9, 0.0
            decision = "approve" if draw < approve else ("request_changes" if draw < approve + changes else "close")
            intent["reviews"].append({"round": round_, "reviewer": reviewer, "decision": decision, "at": review_at})
            if decision == "request_changes":
                for i in range(rng.randint(1, 4)):
                    intent["comments"].append({"round": round_, "author": reviewer, "at": review_at - 60 * (i + 1)})
                moves.append((review_at, "changes_requested"))
                moves.append((review_at + 1, "queued"))
                round_, round_start, n = round_ + 1, review_at + 1, 1
                continue
            if decision == "close":
                cr["closed"] = review_at
                moves.append((review_at, "cancelled"))
                break
            cr["approved"], cr["approved_by"] = review_at, reviewer
            moves.append((review_at, "approved"))
            merge_at = review_at + _lognormal(rng, 900, 1.1)
            if rng.random() < 0.04:
                cr["closed"] = merge_at
                moves.append((merge_at, "cancelled"))
            else:
                cr["merged"], cr["merged_by"], cr["edited"] = merge_at, reviewer, rng.random() < 0.18
                moves.append((merge_at, "merged"))
            break
        return intent

    def _reviewer(self, author: int) -> int:
        for _ in range(8):
            person, _ = self.reviewer.pick(self.rng)
            if person != author:
                return person
        return author


# -- rows -------------------------------------------------------------------------------

INTENT_FIELDS = [
    "id", "team_id", "project_id", "title", "description", "acceptance_criteria", "priority", "labels", "attempts",
    "requires_plan_approval", "author_id", "status", "status_changed_at", "failure_reason", "created_at", "updated_at", "merged_at",
]
RUN_FIELDS = [
    "id", "intent_id", "team_id", "project_id", "attempt", "round", "kind", "priority", "status", "model_id", "model_name",
    "seed", "branch", "base_sha", "head_sha", "dispatched_at", "lease", "worker", "heartbeat_at", "created_at", "started_at",
    "finished_at", "outcome", "reason", "summary", "steps", "prompt_tokens", "completion_tokens", "cost", "resolved",
    "diff_files", "diff_additions", "diff_deletions",
]
CR_FIELDS = [
    "id", "intent_id", "team_id", "project_id", "run_id", "status", "branch", "base_branch", "base_sha", "head_sha", "rounds",
    "created_at", "updated_at", "first_reviewed_at", "approved_at", "approved_by_id", "merged_at", "merged_by_id",
    "merge_strategy", "merge_commit", "closed_at", "edited_by_people",
]
REVIEW_FIELDS = ["id", "change_request_id", "round", "reviewer_id", "decision", "body", "created_at"]
COMMENT_FIELDS = ["id", "change_request_id", "round", "author_id", "path", "line", "body", "sent_to_agent", "created_at"]
REVIEW_BODIES = {"comment": "Why this approach and not a retry?", "approve": "Looks good.", "request_changes": "A few things to change, see the comments.", "close": "Not the direction we want."}


def _hex(rng: random.Random, n: int = 40) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


class Chunk:
    """Rows of a batch of simulated intents, cut at ``now``, ready to COPY."""

    def __init__(self, rng: random.Random, now: float, events_per_run: float) -> None:
        self.rng, self.now, self.events_per_run = rng, now, events_per_run
        self.intents: list[tuple[Any, ...]] = []
        self.runs: list[tuple[Any, ...]] = []
        self.change_requests: list[tuple[Any, ...]] = []
        self.reviews: list[tuple[Any, ...]] = []
        self.review_comments: list[tuple[Any, ...]] = []
        self.event_plan: list[tuple[Any, ...]] = []

    def add(self, sims: list[dict[str, Any]]) -> None:
        now, rng = self.now, self.rng
        intent_ids = allocate_ids(Intent, len(sims))
        live_runs = [(sim, r) for sim in sims for r in sim["runs"] if r["created"] <= now]
        run_ids = allocate_ids(AgentRun, len(live_runs))
        for (_, run), pk in zip(live_runs, run_ids, strict=True):
            run["id"] = pk
        crs = [sim for sim in sims if sim["cr"] is not None and sim["cr"]["created"] <= now]
        cr_ids = allocate_ids(ChangeRequest, len(crs))
        for sim, pk in zip(crs, cr_ids, strict=True):
            sim["cr"]["id"] = pk
        reviews = [(sim, rv) for sim in crs for rv in sim["reviews"] if rv["at"] <= now]
        review_ids = allocate_ids(Review, len(reviews))
        comments = [(sim, c) for sim in crs for c in sim["comments"] if c["at"] <= now]
        comment_ids = allocate_ids(ReviewComment, len(comments))

        for sim, pk in zip(sims, intent_ids, strict=True):
            sim["id"] = pk
            at, status = max((m for m in sim["transitions"] if m[0] <= now), key=lambda m: m[0])
            sim["status"] = status
            sim["branch"] = f"slipway/{pk}-{sim['title'].lower().replace(' ', '-')[:40]}"
            self.intents.append((
                pk, sim["setup"].team.pk, sim["project"].pk, sim["title"], f"{sim['title']}.\n\nSeeded by `seed_demo`.",
                "The tests pass.", sim["priority"], sim["labels"], sim["attempts"], sim["requires_plan_approval"],
                sim["author"], status, at, sim["failure"] if status == "failed" else "", sim["filed"], at,
                at if status == "merged" else None,
            ))
        for sim, run in live_runs:
            self._run(sim, run, sim["setup"].team.pk)
        for sim in crs:
            self._cr(sim, sim["setup"].team.pk)
        for (sim, rv), pk in zip(reviews, review_ids, strict=True):
            self.reviews.append((pk, sim["cr"]["id"], rv["round"], rv["reviewer"], rv["decision"], REVIEW_BODIES[rv["decision"]], rv["at"]))
        for (sim, c), pk in zip(comments, comment_ids, strict=True):
            self.review_comments.append((pk, sim["cr"]["id"], c["round"], c["author"], f"src/{rng.choice(PROJECT_NAMES)}/main.py",
                                  rng.randint(1, 400), "Please handle the empty case here.", True, c["at"]))

    def _run(self, sim: dict[str, Any], run: dict[str, Any], team_id: int) -> None:
        now, rng = self.now, self.rng
        status, started, finished, heartbeat, dispatched, worker, lease = run["status"], run["start"], run["end"], None, run["start"] - 1, run["worker"], ""
        share = 1.0
        if run["start"] > now:
            status, started, finished, worker = "queued", None, None, ""
            dispatched = run["start"] - 1 if run["start"] - now < 20 else None
            share = 0.0
        elif run["end"] > now:
            finished = None
            share = (now - run["start"]) / (run["end"] - run["start"])
            if run["pause_from"] is not None and run["pause_from"] <= now < run["pause_to"]:
                status, worker = "awaiting_plan", ""
            else:
                status, heartbeat, lease = "running", now - rng.random() * 8, secrets.token_hex(8)
        model = run["model"]
        prompt, completion = int(run["prompt"] * share), int(run["completion"] * share)
        cost = (Decimal(prompt) * model.input_price + Decimal(completion) * model.output_price) / Decimal(1_000_000)
        finished_ok = finished is not None and status == "done"
        self.runs.append((
            run["id"], sim["id"], team_id, sim["project"].pk, run["attempt"], run["round"], run["kind"], sim["priority"], status,
            model.pk, model.model, run["attempt"], sim["branch"] + f"/{run['attempt']}", _hex(rng), _hex(rng) if finished_ok else "",
            dispatched, lease, worker, heartbeat, run["created"], started, finished,
            run["outcome"] if finished is not None else "", run["reason"] if finished is not None else "",
            "Changed the code and the tests pass." if finished_ok else "", int(run["steps"] * share), prompt, completion,
            cost.quantize(Decimal("0.000001")), run["resolved"] if finished is not None else None,
            rng.randint(1, 9) if finished_ok else 0, rng.randint(3, 300) if finished_ok else 0, rng.randint(0, 120) if finished_ok else 0,
        ))
        if started is not None:
            k = max(2, round(self.events_per_run * rng.lognormvariate(-0.18, 0.6)))
            self.event_plan.append((run["id"], k, started, finished if finished is not None else now))

    def _cr(self, sim: dict[str, Any], team_id: int) -> None:
        now, cr = self.now, sim["cr"]
        _, rounds, run = max((v for v in cr["versions"] if v[0] <= now), key=lambda v: v[0])
        merged = cr["merged"] if cr["merged"] is not None and cr["merged"] <= now else None
        closed = cr["closed"] if cr["closed"] is not None and cr["closed"] <= now else None
        approved = cr["approved"] if cr["approved"] is not None and cr["approved"] <= now else None
        reviewed = cr["first_reviewed"] if cr["first_reviewed"] is not None and cr["first_reviewed"] <= now else None
        status = "merged" if merged else "closed" if closed else "approved" if approved else "open"
        touched = max(t for t in (cr["created"], reviewed, approved, merged, closed) if t is not None)
        self.change_requests.append((
            cr["id"], sim["id"], team_id, sim["project"].pk, run["id"], status, sim["branch"] + f"/{run['attempt']}",
            sim["project"].default_branch, _hex(self.rng), _hex(self.rng), rounds, cr["created"], touched, reviewed, approved,
            cr["approved_by"] if approved else None, merged, cr["merged_by"] if merged else None, "merge" if merged else "",
            _hex(self.rng) if merged else "", closed, bool(cr["edited"]) if merged else False,
        ))


EVENTS_SQL = """
INSERT INTO runs_runevent (run_id, seq, kind, payload, created_at)
SELECT p.run_id, s.n, k.kind,
  CASE k.kind
    WHEN 'status' THEN jsonb_build_object('status', 'started', 'detail', 'starting a docker sandbox')
    WHEN 'plan' THEN jsonb_build_object('plan', '1. Reproduce with the tests' || chr(10) || '2. Fix' || chr(10) || '3. Run the tests',
                                        'steps', jsonb_build_array('Reproduce', 'Fix', 'Run the tests'), 'awaiting_approval', false)
    WHEN 'message' THEN jsonb_build_object('content', 'Looking at the failing test first.', 'final', false)
    WHEN 'tool_call' THEN jsonb_build_object('id', 'call_' || s.n, 'name', 'bash', 'arguments', jsonb_build_object('command', 'pytest -q -x'))
    WHEN 'tool_result' THEN jsonb_build_object('id', 'call_' || s.n, 'name', 'bash', 'output', (s.n % 17) || ' passed, 1 failed', 'exit_code', 1, 'error', false)
    WHEN 'command_output' THEN jsonb_build_object('id', 'call_' || s.n, 'chunk', 'collected 18 items' || chr(10) || '.................F')
    WHEN 'usage' THEN jsonb_build_object('prompt_tokens', 8000 + s.n * 37, 'completion_tokens', 420, 'cost', 0.03)
    ELSE jsonb_build_object('phase', 'final', 'passed', 18, 'failed', 0)
  END,
  p.t0 + (p.t1 - p.t0) * (s.n::float8 / p.k)
FROM seed_event_plan p
CROSS JOIN LATERAL generate_series(1, p.k) AS s(n)
CROSS JOIN LATERAL (SELECT CASE WHEN s.n = 1 THEN 'status' WHEN s.n = 2 THEN 'plan' WHEN s.n = p.k THEN 'test_result'
                                ELSE (ARRAY['message', 'tool_call', 'tool_result', 'command_output', 'usage'])[1 + s.n % 5] END AS kind) AS k
"""


def _events(plan: list[tuple[Any, ...]]) -> int:
    expected = {"id", "run_id", "seq", "kind", "payload", "created_at"}
    have = {f.attname for f in RunEvent._meta.concrete_fields}
    if have != expected:
        raise RuntimeError(f"RunEvent gained fields {sorted(have - expected)}: teach dashboard/seed.py's EVENTS_SQL about them")
    with connection.cursor() as cursor:
        # Dropped by hand, not ON COMMIT: inside a test's transaction there is no commit between chunks.
        cursor.execute("DROP TABLE IF EXISTS seed_event_plan")
        cursor.execute("CREATE TEMP TABLE seed_event_plan (run_id bigint, k int, t0 timestamptz, t1 timestamptz)")
        with cursor.copy("COPY seed_event_plan FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in plan:
                copy.write_row((row[0], row[1], datetime.fromtimestamp(row[2], tz=UTC), datetime.fromtimestamp(row[3], tz=UTC)))
        cursor.execute(EVENTS_SQL)
        inserted = cursor.rowcount
        cursor.execute("DROP TABLE seed_event_plan")
        return inserted


# -- teams, people, projects, models ---------------------------------------------------------


def _team_sizes(total: int, teams: int) -> list[int]:
    weights = [teams - i for i in range(teams)]  # 4 teams: 40%, 30%, 20%, 10%
    sizes = [total * w // sum(weights) for w in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def _unique_team_name(base: str) -> str:
    name, n = base, 1
    while Team.objects.filter(name=name).exists():
        n += 1
        name = f"{base} {n}"
    return name


@transaction.atomic
def create_team(index: int, intents: int, config: SeedConfig, password_hash: str, rng: random.Random) -> TeamSetup:
    team = Team.objects.create(name=_unique_team_name(f"Demo {TEAM_NAMES[index % len(TEAM_NAMES)]}"), max_concurrent_runs=16)
    slug = team.slug
    people_n = max(6, min(40, 6 + intents // 1500))
    roles = [Role.OWNER, Role.MAINTAINER, Role.MAINTAINER] + [Role.MEMBER] * (people_n - 5) + [Role.VIEWER] * 2
    names = ["lead", "maintainer1", "maintainer2"] + [f"dev{i}" for i in range(1, people_n - 4)] + ["viewer1", "viewer2"]
    users = User.objects.bulk_create(
        [User(username=f"{slug}-{name}", email=f"{name}@{slug}.example.com", password=password_hash) for name in names]
    )
    Membership.objects.bulk_create([Membership(team=team, user=u, role=r) for u, r in zip(users, roles, strict=True)])
    projects = [
        Project(team=team, name=name, repo_url=f"https://git.example.com/{slug}/{name}.git", head_sha=_hex(rng), created_by=users[0])
        for name in rng.sample(PROJECT_NAMES, rng.randint(3, 7))
    ]
    projects = Project.objects.bulk_create(projects)
    models = ModelConfig.objects.bulk_create(
        [ModelConfig(team=team, name=name, provider=provider, model=model, input_price=pin, output_price=pout,
                     base_url="http://models.internal:8000/v1" if provider == "openai" and pin < 1 else "")
         for name, provider, model, pin, pout, _ in MODELS]
    )
    team.default_model = models[0]
    team.save(update_fields=["default_model"])
    people = [(u.pk, r) for u, r in zip(users, roles, strict=True) if r != Role.VIEWER]
    return TeamSetup(team, projects, models, people, intents, users[0].username)


def seed(config: SeedConfig, log: Callable[[str], None] = print) -> Summary:
    rng = random.Random(config.seed)
    now_dt = config.now or timezone.now()
    now = now_dt.timestamp()
    password_hash = make_password(config.password)
    summary = Summary(counts={"intents": 0, "runs": 0, "change_requests": 0, "reviews": 0, "review_comments": 0, "events": 0})
    tables = {
        "intents": CopyTable(Intent, INTENT_FIELDS),
        "runs": CopyTable(AgentRun, RUN_FIELDS),
        "change_requests": CopyTable(ChangeRequest, CR_FIELDS),
        "reviews": CopyTable(Review, REVIEW_FIELDS),
        "review_comments": CopyTable(ReviewComment, COMMENT_FIELDS),
    }
    simulators = []
    for index, size in enumerate(_team_sizes(config.intents, config.teams)):
        setup = create_team(index, size, config, password_hash, rng)
        summary.teams.append(setup)
        simulators.append(Simulator(rng, setup, config, now))
    # Rows go in in the order they were filed, every team mixed, as they would in a database that
    # grew for months: ids rise with time and a table's pages follow the calendar.
    filings = sorted((sim.filed_at(), i) for i, sim in enumerate(simulators) for _ in range(sim.setup.intents))
    for first in range(0, len(filings), config.chunk):
        with transaction.atomic():
            chunk = Chunk(rng, now, config.events_per_run)
            chunk.add([simulators[i].intent(filed) for filed, i in filings[first : first + config.chunk]])
            for name, table in tables.items():
                summary.counts[name] += table.copy(getattr(chunk, name))
            summary.counts["events"] += _events(chunk.event_plan)
        log(f"  {summary.counts['intents']:,} intents, {summary.counts['runs']:,} runs, {summary.counts['events']:,} events")
    _workers(now_dt)
    _budgets(summary, now_dt)
    return summary


def _workers(now: datetime) -> None:
    """Six demo workers; the last has been silent for seven minutes."""
    for i, host in enumerate(WORKERS):
        silent = i == len(WORKERS) - 1
        Worker.objects.update_or_create(
            hostname=host,
            defaults={
                "slots": WORKER_SLOTS,
                "active": 0,
                "sandbox_backend": "docker",
                "sandbox_problem": "",
                "heartbeat_at": now - (timedelta(minutes=7) if silent else timedelta(seconds=3 + i)),
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE runs_worker w SET active = (
                 SELECT count(*) FROM runs_agentrun r
                 WHERE r.status = 'running' AND starts_with(r.worker, split_part(w.hostname, '@', 2) || ':'))
               WHERE w.hostname = ANY(%s)""",
            [WORKERS],
        )


def _budgets(summary: Summary, now: datetime) -> None:
    """Budgets that put the first team past 80% of its month, the second past 100%, the rest well under."""
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    targets = [Decimal("0.86"), Decimal("1.08")]
    for i, setup in enumerate(summary.teams):
        total = AgentRun.objects.filter(team=setup.team, created_at__gte=month).aggregate(s=Sum("cost"))["s"]
        share = targets[i] if i < len(targets) else Decimal("0.45")
        budget = (total / share).quantize(Decimal("1")) if total else Decimal("100")
        Team.objects.filter(pk=setup.team.pk).update(monthly_budget=max(budget, Decimal("1")))


def vacuum() -> None:
    """Fresh statistics and visibility maps, so the planner sees the data as a long-lived database would."""
    with connection.cursor() as cursor:
        for table in ("intents_intent", "runs_agentrun", "runs_runevent", "reviews_changerequest", "reviews_review",
                      "reviews_reviewcomment", "auth_user", "accounts_membership"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
