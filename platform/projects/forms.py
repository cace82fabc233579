from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from agents.git import GitCredentials, GitError, RepoURLError, default_branch, ls_remote, validate_repo_url
from projects.models import Project

COMMAND_HELP = "Runs in the sandbox from the repository's root, e.g. `python -m pytest -q`."


class LinkProjectForm(forms.ModelForm):
    """Link a repository: the URL is validated, then probed with `git ls-remote`."""

    credentials_token = forms.CharField(
        label="Access token",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="For private repositories. Stored encrypted, never shown again, never given to the agent.",
    )

    class Meta:
        model = Project
        fields = ["name", "repo_url", "default_branch", "test_command", "setup_command", "credentials_username"]
        labels = {"credentials_username": "Access username"}
        help_texts = {
            "repo_url": "https://, ssh:// or git@host:path. Local paths only where the administrator allows them.",
            "default_branch": "Leave empty to use the repository's own default branch.",
            "test_command": COMMAND_HELP,
            "setup_command": "Installs dependencies before the agent starts, e.g. `pip install -e .`",
        }
        widgets = {
            "repo_url": forms.TextInput(attrs={"class": "code", "placeholder": "https://github.com/acme/widgets.git"}),
            "test_command": forms.TextInput(attrs={"class": "code"}),
            "setup_command": forms.TextInput(attrs={"class": "code"}),
            "default_branch": forms.TextInput(attrs={"class": "code"}),
        }

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["default_branch"].required = False
        self.probed_head = ""

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Project.objects.filter(team=self.team, name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This team already has a project with that name.")
        return name

    def clean_repo_url(self) -> str:
        try:
            return validate_repo_url(self.cleaned_data["repo_url"], allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS)
        except RepoURLError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        url = data.get("repo_url")
        if not url or self.errors:
            return data
        token = data.get("credentials_token") or ""
        creds = GitCredentials(data.get("credentials_username") or "x-access-token", token) if token else None
        try:
            refs = ls_remote(url, credentials=creds, allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS, timeout=20)
        except (GitError, RepoURLError) as exc:
            self.add_error("repo_url", f"Could not read the repository: {exc}")
            return data
        branch = (data.get("default_branch") or "").strip()
        if not branch:
            try:
                branch = default_branch(url, credentials=creds, allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS, timeout=20) or ""
            except (GitError, RepoURLError) as exc:
                self.add_error("repo_url", f"Could not read the repository: {exc}")
                return data
            if not branch:
                self.add_error("default_branch", "The repository has no default branch: name the branch to use.")
                return data
        sha = refs.get(f"refs/heads/{branch}")
        if sha is None:
            branches = sorted(r.removeprefix("refs/heads/") for r in refs if r.startswith("refs/heads/"))
            shown = ", ".join(branches[:8]) or "none"
            self.add_error("default_branch", f"There is no branch {branch!r} in the repository (branches: {shown}).")
            return data
        data["default_branch"] = branch
        self.probed_head = sha
        return data


class ProjectSettingsForm(forms.ModelForm):
    credentials_token = forms.CharField(
        label="New access token",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored one.",
    )
    clear_credentials = forms.BooleanField(required=False, label="Remove the stored token")

    class Meta:
        model = Project
        fields = [
            "name",
            "default_branch",
            "test_command",
            "setup_command",
            "network_policy",
            "default_model",
            "memory_mb",
            "cpus",
            "pids_limit",
            "disk_mb",
            "command_timeout",
            "run_timeout",
            "max_steps",
            "max_cost",
            "max_concurrent_runs",
            "merge_strategy",
            "require_maintainer_approval",
            "require_passing_tests",
            "credentials_username",
        ]
        labels = {
            "memory_mb": "Memory (MB)",
            "cpus": "CPUs",
            "pids_limit": "Processes",
            "disk_mb": "Scratch disk (MB)",
            "credentials_username": "Access username",
            "max_concurrent_runs": "Concurrent runs",
        }
        widgets = {
            "test_command": forms.TextInput(attrs={"class": "code"}),
            "setup_command": forms.TextInput(attrs={"class": "code"}),
            "default_branch": forms.TextInput(attrs={"class": "code"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from runs.models import ModelConfig

        self.fields["default_model"].queryset = ModelConfig.objects.filter(team=self.instance.team)
        self.fields["default_model"].empty_label = "Team default"
        self.fields["default_model"].help_text = "Used when an intent does not choose one; else the team's default."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Project.objects.filter(team=self.instance.team, name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This team already has a project with that name.")
        return name
