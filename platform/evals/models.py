"""Runs as evaluation and training data: rewards, evaluation suites and their results, dataset exports."""

from __future__ import annotations

from typing import Any

from django.db import models

from agents.evaluation import DEFAULT_RUNNER


class TeamScoped(models.QuerySet):  # type: ignore[type-arg]
    def for_user(self, user: Any) -> TeamScoped:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class Verdict(models.TextChoices):
    NONE = "", "No verdict yet"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    MERGED = "merged", "Merged"
    CLOSED = "closed", "Closed"


class RunReward(models.Model):
    """A run's reward as it grows: the execution reward at its end, the human verdict when it comes."""

    run = models.OneToOneField("runs.AgentRun", on_delete=models.CASCADE, related_name="learning_reward")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    version = models.CharField(
        max_length=40, help_text="The reward definition that computed it (evals.rewards)."
    )
    execution = models.JSONField(
        null=True, blank=True, help_text="Tests before and after, and whether they resolved it."
    )
    resolved = models.BooleanField(null=True)
    verdict = models.CharField(max_length=20, choices=Verdict.choices, blank=True, default="")
    score = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TeamScoped.as_manager()

    def __str__(self) -> str:
        return f"reward of run {self.run_id}: {self.score}"


class EvalSuite(models.Model):
    """Tasks in SWE-bench format, imported once, run against model configurations many times."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="eval_suites")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=5000)
    test_runner = models.CharField(
        max_length=300,
        default=DEFAULT_RUNNER,
        help_text="pytest, as the sandbox runs it; the test ids are appended.",
    )
    include_hints = models.BooleanField(default=False, help_text="Give the agent the instances' hints_text.")
    problems = models.JSONField(
        default=list, blank=True, help_text="Rows of the imported file that could not be read."
    )
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScoped.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="eval_suite_name_unique_per_team")
        ]

    def __str__(self) -> str:
        return self.name


class EvalTask(models.Model):
    """One SWE-bench instance, with the linked project its ``repo`` maps to (None: not linked)."""

    suite = models.ForeignKey(EvalSuite, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField(default=0)
    instance_id = models.CharField(max_length=200)
    repo = models.CharField(max_length=200)
    base_commit = models.CharField(max_length=64)
    problem_statement = models.TextField()
    hints_text = models.TextField(blank=True)
    test_patch = models.TextField()
    fail_to_pass = models.JSONField(default=list)
    pass_to_pass = models.JSONField(default=list)
    extra = models.JSONField(default=dict, blank=True)
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["suite", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["suite", "instance_id"], name="eval_task_unique_per_suite")
        ]

    def __str__(self) -> str:
        return self.instance_id

    def instance(self) -> Any:
        from agents.instances import Instance

        return Instance(
            instance_id=self.instance_id,
            repo=self.repo,
            base_commit=self.base_commit,
            problem_statement=self.problem_statement,
            test_patch=self.test_patch,
            fail_to_pass=tuple(self.fail_to_pass),
            pass_to_pass=tuple(self.pass_to_pass),
            hints_text=self.hints_text,
            extra=self.extra,
        )


class Evaluation(models.Model):
    """One run of a suite against one or more model configurations, N attempts per task."""

    suite = models.ForeignKey(EvalSuite, on_delete=models.CASCADE, related_name="evaluations")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=1)
    model_configs = models.ManyToManyField("runs.ModelConfig", related_name="+", blank=True)
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScoped.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of {self.suite}"


class GradeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    GRADING = "grading", "Grading"
    RESOLVED = "resolved", "Resolved"
    UNRESOLVED = "unresolved", "Unresolved"
    ERROR = "error", "Error"
    EMPTY = "empty", "Empty patch"


GRADED = frozenset({GradeStatus.RESOLVED, GradeStatus.UNRESOLVED, GradeStatus.ERROR, GradeStatus.EMPTY})


class EvalResult(models.Model):
    """One attempt of one task by one model configuration: its run, and the grade of the run's patch."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="results")
    task = models.ForeignKey(EvalTask, on_delete=models.CASCADE, related_name="results")
    model = models.ForeignKey("runs.ModelConfig", null=True, on_delete=models.SET_NULL, related_name="+")
    model_label = models.CharField(
        max_length=100, help_text="The configuration's name when the evaluation started."
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    intent = models.ForeignKey(
        "intents.Intent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.OneToOneField(
        "runs.AgentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="eval_result"
    )
    status = models.CharField(max_length=20, choices=GradeStatus.choices, default=GradeStatus.PENDING)
    error = models.TextField(blank=True)
    grade = models.JSONField(null=True, blank=True, help_text="agents.evaluation.Grade, without its log.")
    log = models.TextField(blank=True)
    grading_started_at = models.DateTimeField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    grading_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["task__position", "model_label", "attempt", "id"]
        indexes = [models.Index(fields=["evaluation", "status"], name="eval_result_status")]

    def __str__(self) -> str:
        return f"{self.task} by {self.model_label} (attempt {self.attempt}): {self.status}"

    @property
    def is_graded(self) -> bool:
        return self.status in GRADED


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Export(models.Model):
    """A dataset export written in the background to a file under SLIPWAY_DATA_DIR/exports."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    format = models.CharField(max_length=20)
    filters = models.JSONField(default=dict, blank=True)
    extras = models.BooleanField(default=True, help_text="Reward and metadata on every line.")
    status = models.CharField(max_length=20, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    written = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="Why runs were skipped, if any were.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScoped.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format})"

    @property
    def progress(self) -> int:
        """Percent done, for the progress bar."""
        if self.status == ExportStatus.DONE:
            return 100
        return min(99, int(100 * (self.written + self.skipped) / self.total)) if self.total else 0

    @property
    def filter_summary(self) -> str:
        parts = [f"{name} {value}" for name, value in self.filters.items() if value and value != "any"]
        return ", ".join(parts) or "none"

    @property
    def filename(self) -> str:
        suffix = "predictions" if self.format == "swebench" else self.format
        return f"slipway-{self.team.slug}-{self.pk}-{suffix}.jsonl"
