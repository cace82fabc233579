"""What every figure on the dashboard means, one click away from it (``/dashboard/definitions/#<id>``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    id: str
    title: str
    text: str


DEFINITIONS = [
    Definition(
        "period",
        "Period and filters",
        "The period is the last 7, 30 or 90 days up to now, or whole days from one date to another (UTC). "
        "Each card compares the period with the one of equal length just before it. The filters narrow "
        "intents (project, requester, label, status); the model filter keeps runs of that model, and the "
        "intents and changes that had one. Workers and the budget are never narrowed. What is true "
        "now (runs queued, running or waiting for a plan, changes awaiting review, workers, the queue, "
        "spend this month) is read on every refresh; figures over the period are recomputed at most "
        "once a minute, and the page says as of when.",
    ),
    Definition("filed", "Intents filed", "Intents created in the period, in any status, drafts included."),
    Definition(
        "queued",
        "Runs queued",
        "Agent runs waiting for a worker now. The earlier value counts the runs that had been created "
        "but had neither started nor ended when the period began, reconstructed from their timestamps.",
    ),
    Definition(
        "running",
        "Runs in progress",
        "Agent runs executing now (not those paused for a plan approval). The earlier value counts "
        "runs started and not yet ended when the period began.",
    ),
    Definition(
        "awaiting_review",
        "Awaiting review",
        "Intents whose change request waits for a reviewer's decision now. The earlier value counts "
        "change requests opened and not yet reviewed, merged or closed when the period began; later "
        "review rounds leave no timestamp, so it counts first rounds only.",
    ),
    Definition("merged", "Merged", "Intents merged in the period."),
    Definition(
        "merge_rate",
        "Agent merge rate",
        "Change requests merged in the period, divided by those merged plus those closed without merge "
        "in the period. Changes still open do not count either way.",
    ),
    Definition(
        "ttm_p50",
        "Filing to merge, median and P75",
        "For each intent merged in the period, the time from filing it to merging its change; the "
        "median (half took less) and the 75th percentile (three in four took less). Percentiles are "
        "continuous (interpolated between the two nearest values, like PostgreSQL's percentile_cont "
        "and numpy's default). Unfinished intents are left out.",
    ),
    Definition("ttm_p75", "Filing to merge, P75", "See filing to merge, median."),
    Definition(
        "spend",
        "Spend this month",
        "Model cost of every run of the team created since the first of this month (UTC), against the "
        "team's monthly budget (Team settings). The comparison is the same stretch of last month. The "
        "dashboard warns at 80% and at 100% of the budget. Filters do not apply.",
    ),
    Definition(
        "workers",
        "Workers",
        "Celery workers that consume the agents queue, from the heartbeat each writes. Slots are the "
        "worker's concurrency; used slots are the runs it reports as executing, for all teams; free "
        "slots are the rest. Our runs are this team's runs executing on it now, and those that ended "
        "done or failed on it in the last 24 hours. A worker that has not reported for two minutes is "
        "flagged silent and its slots are not counted as free.",
    ),
    Definition(
        "queue",
        "Queue",
        "Runs waiting to start, by priority: how many, how many were already sent to a worker and wait "
        "to be picked up, and how long the oldest has waited.",
    ),
    Definition(
        "run-states",
        "Runs by state",
        "Queued, running and awaiting plan approval count the runs in that state now. Failed, cancelled "
        "and done count the runs that ended so in the period.",
    ),
    Definition(
        "run-durations",
        "Run duration and queue wait",
        "Over the runs that ended in the period: the duration from start to end, and the queue wait "
        "from creation to start; the median (P50) and the 95th percentile (P95).",
    ),
    Definition(
        "stages",
        "Stages from intent to merge",
        "For each intent merged in the period: queue wait (filing to the start of its first run), agent "
        "run (to its change request opening, i.e. the end of the first round), pickup (to the first "
        "review), review (to approval, across any further rounds), merge wait (to the merge). A stage "
        "without both timestamps (say, merged without a recorded approval) is left out of that stage's "
        "figures only. Medians of stages do not add up to the median of the total.",
    ),
    Definition(
        "stages-over-time",
        "Stage medians over time",
        "The stage medians of the intents merged in each day (or week, for periods over a month), by "
        "the day of the merge.",
    ),
    Definition(
        "scatter",
        "Intents merged, one point each",
        "Each point is an intent merged in the period: when it merged and how long it took from filing. "
        "The page draws the most recent 1,500; the CSV has them all.",
    ),
    Definition(
        "rolling-median",
        "Rolling median",
        "For each day, the median filing-to-merge time of the intents merged in the seven days ending "
        "that day.",
    ),
    Definition(
        "unfinished",
        "Unfinished intents",
        "Intents filed in the period that are neither merged, cancelled nor failed. They are shown "
        "apart and never enter a median.",
    ),
    Definition(
        "wip",
        "Work in progress",
        "At the end of each day, the intents filed by then that had not ended (merged, cancelled or "
        "failed). An intent's end is when it entered its current ended status.",
    ),
    Definition(
        "outcomes",
        "Outcomes",
        "Runs ended: runs that finished in the period; resolved by tests: those whose final test run "
        "passed where the baseline failed. Approved, merged and closed count change requests that "
        "reached that state in the period. Edited by people: merged changes someone changed by hand "
        "before the merge.",
    ),
    Definition(
        "rounds",
        "Review rounds per change",
        "For change requests merged or closed in the period: how many rounds of review they went "
        "through (1 means accepted or closed as first proposed).",
    ),
    Definition(
        "failure-reasons",
        "Most common failure reasons",
        "Runs that failed in the period, grouped by the first line of their reason (up to 120 "
        "characters) and their outcome.",
    ),
    Definition("spend-by-day", "Spend per day", "Model cost of the runs created each day, stacked by model."),
    Definition("tokens", "Tokens per day", "Prompt plus completion tokens of the runs created each day, stacked by model."),
    Definition(
        "cost-per-intent",
        "Cost per intent and per merged change",
        "Per intent worked on: the cost of its runs created in the period, for every intent that had "
        "one. Per merged change: the cost of all runs, ever, of each intent merged in the period. "
        "Median and P75 across intents.",
    ),
    Definition("top-intents", "Most expensive intents", "Intents by the cost of their runs created in the period."),
    Definition("my-intents", "My open intents", "Intents you filed that are not merged or cancelled, most recently changed first."),
    Definition(
        "my-reviews",
        "Reviews waiting for me",
        "Change requests waiting for a review decision, on intents someone else filed, longest waiting first.",
    ),
    Definition(
        "rankings",
        "Rankings",
        "Per person, in the period: intents filed and merged and the median filing to merge, and "
        "reviews given by decision. Shown to maintainers and owners only.",
    ),
]
BY_ID = {d.id: d for d in DEFINITIONS}
