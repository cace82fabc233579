from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import URLValidator
from django.db import models

from config import crypto


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible (OpenAI, vLLM, Ollama, llama.cpp, LM Studio, ...)"
    ANTHROPIC = "anthropic", "Anthropic"


class ToolMode(models.TextChoices):
    AUTO = "auto", "Native tool calls, falling back to text"
    NATIVE = "native", "Native tool calls"
    TEXT = "text", "Text (one shell block per reply)"


class ModelConfigQuerySet(models.QuerySet["ModelConfig"]):
    def for_user(self, user: Any) -> ModelConfigQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class ModelConfig(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="model_configs")
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.CharField(
        "base URL", max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )
    model = models.CharField(max_length=200)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    input_price = models.DecimalField(
        "input price (USD per million tokens)", max_digits=10, decimal_places=4, default=Decimal(0)
    )
    output_price = models.DecimalField(
        "output price (USD per million tokens)", max_digits=10, decimal_places=4, default=Decimal(0)
    )
    context_window = models.PositiveIntegerField(default=128_000)
    tool_mode = models.CharField(max_length=10, choices=ToolMode.choices, default=ToolMode.AUTO)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModelConfigQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="model_name_unique_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    def set_api_key(self, value: str) -> None:
        self.api_key_encrypted = crypto.encrypt(value)

    @property
    def api_key_hint(self) -> str:
        return crypto.mask(self.api_key) if self.api_key_encrypted else ""


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    AWAITING_PLAN = "awaiting_plan", "Awaiting plan approval"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = frozenset({RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED})


class AgentRunQuerySet(models.QuerySet["AgentRun"]):
    def for_user(self, user: Any) -> AgentRunQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class AgentRun(models.Model):
    intent = models.ForeignKey("intents.Intent", on_delete=models.CASCADE, related_name="runs")
    # Denormalised from the intent so that dashboards and concurrency checks need no joins.
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="runs")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    attempt = models.PositiveSmallIntegerField(default=1)
    round = models.PositiveSmallIntegerField(default=1, help_text="Review round this run belongs to.")
    kind = models.CharField(max_length=20, default="implement")  # implement | revise | rebase
    priority = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    model = models.ForeignKey(ModelConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    model_name = models.CharField(max_length=200, blank=True)
    seed = models.IntegerField(null=True, blank=True)

    branch = models.CharField(max_length=250, blank=True)
    base_sha = models.CharField(max_length=64, blank=True)
    head_sha = models.CharField(max_length=64, blank=True)

    dispatched_at = models.DateTimeField(null=True, blank=True)
    # A token per dispatch: the task carries it and must match it to claim the run, so a stale
    # redelivery of an older dispatch can never start a run that was handed on since.
    lease = models.CharField(max_length=32, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    outcome = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    approved_plan = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    feedback = models.JSONField(default=list, blank=True, help_text="Review comments handed to the agent.")

    steps = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))

    baseline = models.JSONField(null=True, blank=True)
    final = models.JSONField(null=True, blank=True)
    reward = models.JSONField(null=True, blank=True)
    resolved = models.BooleanField(null=True)
    diff = models.TextField(blank=True)
    diff_files = models.PositiveIntegerField(default=0)
    diff_additions = models.PositiveIntegerField(default=0)
    diff_deletions = models.PositiveIntegerField(default=0)

    # What the agent needs to resume after a crash: the history and counters at the last snapshot.
    state = models.JSONField(null=True, blank=True)
    trajectory = models.JSONField(null=True, blank=True)
    snapshot_ref = models.CharField(max_length=200, blank=True)

    objects = AgentRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "status"], name="run_team_status"),
            models.Index(fields=["team", "created_at"], name="run_team_created"),
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
            models.Index(fields=["project", "status"], name="run_project_status"),
            # The dashboard: runs that ended in a period; an intent's first start (its queue wait).
            models.Index(fields=["team", "finished_at"], name="run_team_finished"),
            models.Index(fields=["intent", "started_at"], name="run_intent_started"),
            # The dashboard's spend this month, read on every refresh of its live block: index only.
            models.Index(fields=["team", "created_at"], include=["cost"], name="run_team_created_cost"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of intent {self.intent_id} (attempt {self.attempt})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class RunEvent(models.Model):
    run = models.ForeignKey(AgentRun, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="event_seq_unique_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.kind}"


class Worker(models.Model):
    """A Celery worker's heartbeat, written by the worker itself."""

    hostname = models.CharField(max_length=200, unique=True)
    slots = models.PositiveIntegerField(default=1)
    active = models.PositiveIntegerField(default=0)
    sandbox_backend = models.CharField(max_length=40, blank=True)
    sandbox_problem = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname
