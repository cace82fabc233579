from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from config import crypto


class ProjectQuerySet(models.QuerySet["Project"]):
    def for_user(self, user: Any) -> ProjectQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class NetworkPolicy(models.TextChoices):
    NONE = "none", "No network"
    SETUP = "setup", "Network for the setup command only"
    ALL = "all", "Network for setup and the agent's commands"


class MergeStrategy(models.TextChoices):
    MERGE = "merge", "Merge commit"
    SQUASH = "squash", "Squash"
    FAST_FORWARD = "ff", "Fast-forward"


class Project(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    repo_url = models.CharField("repository URL", max_length=2048)
    default_branch = models.CharField(max_length=200, default="main")
    setup_command = models.TextField(blank=True, max_length=2000)
    test_command = models.TextField(blank=True, max_length=2000)
    network_policy = models.CharField(max_length=10, choices=NetworkPolicy.choices, default=NetworkPolicy.NONE)

    # Sandbox limits and the agent's budgets.
    memory_mb = models.PositiveIntegerField(default=2048, validators=[MinValueValidator(128), MaxValueValidator(65536)])
    cpus = models.DecimalField(max_digits=4, decimal_places=1, default=2, validators=[MinValueValidator(0.1)])
    pids_limit = models.PositiveIntegerField(default=256, validators=[MinValueValidator(16), MaxValueValidator(8192)])
    disk_mb = models.PositiveIntegerField(default=2048, validators=[MinValueValidator(64), MaxValueValidator(262144)])
    command_timeout = models.PositiveIntegerField(
        "command timeout (s)", default=300, validators=[MinValueValidator(1), MaxValueValidator(7200)]
    )
    run_timeout = models.PositiveIntegerField(
        "run wall clock (s)", default=1800, validators=[MinValueValidator(30), MaxValueValidator(14400)]
    )
    max_steps = models.PositiveIntegerField(default=50, validators=[MinValueValidator(1), MaxValueValidator(500)])
    max_cost = models.DecimalField(
        "cost budget per run (USD)", max_digits=8, decimal_places=2, default=5, validators=[MinValueValidator(0)]
    )
    max_concurrent_runs = models.PositiveIntegerField(default=4, validators=[MinValueValidator(1)])

    # Review and merge policy.
    merge_strategy = models.CharField(max_length=10, choices=MergeStrategy.choices, default=MergeStrategy.MERGE)
    require_maintainer_approval = models.BooleanField(default=True)
    require_passing_tests = models.BooleanField(default=True)

    default_model = models.ForeignKey(
        "runs.ModelConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credentials_username = models.CharField(max_length=200, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)

    head_sha = models.CharField(max_length=64, blank=True)
    probed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="project_name_unique_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def credentials_token(self) -> str:
        return crypto.decrypt(self.credentials_encrypted)

    def set_credentials(self, username: str, token: str) -> None:
        self.credentials_username = username
        self.credentials_encrypted = crypto.encrypt(token)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)
