from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

TITLE_MAX = 200
DESCRIPTION_MAX = 50_000
CRITERIA_MAX = 20_000
COMMENT_MAX = 20_000
LABEL_MAX = 40
LABELS_MAX = 10
ATTEMPTS_MAX = 5


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an intent cannot go from {current} to {target}")
        self.current = current
        self.target = target


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    MERGED = "merged", "Merged"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


S = Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    # running -> queued: a crashed worker's run is requeued.
    S.RUNNING: frozenset({S.IN_REVIEW, S.FAILED, S.CANCELLED, S.QUEUED}),
    # in_review -> queued/running: "rebase with the agent", or another attempt.
    S.IN_REVIEW: frozenset({S.APPROVED, S.CHANGES_REQUESTED, S.CANCELLED, S.MERGED, S.QUEUED, S.RUNNING}),
    S.CHANGES_REQUESTED: frozenset({S.QUEUED, S.RUNNING, S.CANCELLED}),
    S.APPROVED: frozenset({S.MERGED, S.CHANGES_REQUESTED, S.IN_REVIEW, S.QUEUED, S.CANCELLED}),
    S.FAILED: frozenset({S.QUEUED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.QUEUED}),
    S.MERGED: frozenset(),
}
# Statuses in which an agent is (or will be) working on the intent.
ACTIVE = frozenset({S.QUEUED, S.RUNNING})
OPEN = frozenset(set(S) - {S.MERGED, S.CANCELLED})


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class IntentQuerySet(models.QuerySet["Intent"]):
    def for_user(self, user: Any) -> IntentQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class Intent(models.Model):
    # team duplicates project.team so that team-wide queries (board, dashboard) need no join.
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="intents")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="intents")
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(max_length=DESCRIPTION_MAX, blank=True)
    acceptance_criteria = models.TextField(max_length=CRITERIA_MAX, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    labels = ArrayField(models.CharField(max_length=LABEL_MAX), default=list, blank=True, size=LABELS_MAX)
    attempts = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(ATTEMPTS_MAX)]
    )
    requires_plan_approval = models.BooleanField(default=False)
    model = models.ForeignKey("runs.ModelConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Runs start here instead of at the tip of the default branch: evaluation tasks are pinned to a commit.
    base_commit = models.CharField(max_length=64, blank=True, default="")
    author = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="intents")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    merged_at = models.DateTimeField(null=True, blank=True)

    objects = IntentQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "-created_at"]
        indexes = [
            models.Index(fields=["project", "status"], name="intent_board"),
            models.Index(fields=["team", "created_at"], name="intent_team_created"),
            models.Index(fields=["team", "status"], name="intent_team_status"),
            # The dashboard: intents merged in a period, and intents that ended (entered merged,
            # cancelled or failed) in a period, for its flow and work-in-progress charts.
            models.Index(fields=["team", "merged_at"], name="intent_team_merged"),
            models.Index(fields=["team", "status", "status_changed_at"], name="intent_team_status_changed"),
            # The board: the first cards of a column, in the column's order, without sorting the column.
            models.Index(fields=["project", "status", "-priority", "-status_changed_at"], name="intent_board_order"),
            GinIndex(fields=["labels"], name="intent_labels"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("intent_detail", args=[self.pk])

    def can_transition(self, target: str) -> bool:
        return target in TRANSITIONS[Status(self.status)]

    def transition(self, target: str) -> None:
        """Move to ``target`` in memory; the caller saves. Illegal moves raise."""
        if not self.can_transition(target):
            raise IllegalTransition(self.status, target)
        from django.utils import timezone

        self.status = target
        self.status_changed_at = timezone.now()
        if target == Status.MERGED:
            self.merged_at = self.status_changed_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


class Comment(models.Model):
    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(max_length=COMMENT_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment by {self.author} on {self.intent_id}"
