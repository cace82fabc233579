from __future__ import annotations

from typing import Any

from django.db import models

from intents.models import COMMENT_MAX


class ChangeRequestQuerySet(models.QuerySet["ChangeRequest"]):
    def for_user(self, user: Any) -> ChangeRequestQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class CRStatus(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    MERGED = "merged", "Merged"
    CLOSED = "closed", "Closed"


class ChangeRequest(models.Model):
    intent = models.OneToOneField("intents.Intent", on_delete=models.CASCADE, related_name="change_request")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="change_requests")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="change_requests")
    run = models.ForeignKey("runs.AgentRun", on_delete=models.PROTECT, related_name="+", help_text="The proposed run.")
    status = models.CharField(max_length=20, choices=CRStatus.choices, default=CRStatus.OPEN)
    branch = models.CharField(max_length=250)
    base_branch = models.CharField(max_length=200)
    base_sha = models.CharField(max_length=64)
    head_sha = models.CharField(max_length=64)
    rounds = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(null=True, blank=True)
    merged_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merge_strategy = models.CharField(max_length=10, blank=True)
    merge_commit = models.CharField(max_length=64, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    edited_by_people = models.BooleanField(default=False)
    branch_deleted_at = models.DateTimeField(null=True, blank=True)

    # What the last merge (or check) found, shown on the page until the next round or a clean check.
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_base_sha = models.CharField(max_length=64, blank=True, help_text="The base branch's tip the check saw.")
    conflict_files = models.JSONField(default=list, blank=True)
    merge_error = models.TextField(blank=True)

    objects = ChangeRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "status"], name="cr_team_status")]

    def __str__(self) -> str:
        return f"change request for intent {self.intent_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (CRStatus.OPEN, CRStatus.APPROVED)

    def clear_merge_check(self) -> None:
        """Forget what an earlier merge attempt found (the caller saves)."""
        self.checked_at = None
        self.checked_base_sha = ""
        self.conflict_files = []
        self.merge_error = ""


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    CLOSE = "close", "Close"
    COMMENT = "comment", "Comment"


class Review(models.Model):
    change_request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="reviews")
    round = models.PositiveSmallIntegerField(default=1)
    reviewer = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    body = models.TextField(max_length=COMMENT_MAX, blank=True)
    # An approval counts for this commit only: a new round or another attempt needs a new one.
    head_sha = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        # The dashboard's reviewer ranking reads the reviews of a period.
        indexes = [models.Index(fields=["created_at"], name="review_created")]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer}"


class Side(models.TextChoices):
    NEW = "new", "The changed version"
    OLD = "old", "The version before (a removed line)"


class ReviewComment(models.Model):
    change_request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="comments")
    round = models.PositiveSmallIntegerField(default=1)
    # The run whose diff the comment was written on: after another round it shows as outdated.
    run = models.ForeignKey("runs.AgentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    path = models.CharField(max_length=1000, blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    side = models.CharField(max_length=3, choices=Side.choices, default=Side.NEW)
    body = models.TextField(max_length=COMMENT_MAX)
    sent_to_agent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.path else "general"
        return f"{where} by {self.author}"

    def as_feedback(self) -> dict[str, Any]:
        """The comment as the agent receives it: ``{file, line, text}`` (agents.task.ReviewComment)."""
        text = self.body.strip()
        if self.side == Side.OLD and self.line is not None:
            text = f"(on line {self.line} of the version before your change, a line you removed) {text}"
        return {"file": self.path or None, "line": self.line if self.path else None, "text": text}
