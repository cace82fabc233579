from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Team
from agents.evaluation import DEFAULT_RUNNER
from agents.export import FORMATS
from evals.exporting import OUTCOMES, Filters
from intents.models import ATTEMPTS_MAX
from projects.models import Project
from runs.models import ModelConfig

MAX_IMPORT_BYTES = 64 * 1024 * 1024


class SuiteImportForm(forms.Form):
    name = forms.CharField(max_length=100)
    file = forms.FileField(required=False, help_text="SWE-bench instances as JSON Lines or a JSON array.")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Or paste them")
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        required=False,
        label="Map every repository to",
        help_text="Leave empty to match each repo (owner/name) to the project whose URL ends with it.",
    )
    test_runner = forms.CharField(
        max_length=300,
        initial=DEFAULT_RUNNER,
        help_text="pytest as the sandbox runs it; the test ids are appended.",
    )
    include_hints = forms.BooleanField(required=False, label="Give the agent the instances' hints")

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(team=team)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError(
                    f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."
                )
            try:
                data["content"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        else:
            data["content"] = data.get("text") or ""
        if not data["content"].strip():
            raise forms.ValidationError("Choose a file of instances, or paste them.")
        return data


class MappingForm(forms.Form):
    repo = forms.CharField(max_length=200, widget=forms.HiddenInput)
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="Not linked"
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(team=team)  # type: ignore[attr-defined]


class EvaluationForm(forms.Form):
    models = forms.ModelMultipleChoiceField(
        queryset=ModelConfig.objects.none(), widget=forms.CheckboxSelectMultiple, label="Model configurations"
    )
    attempts = forms.IntegerField(
        min_value=1, max_value=ATTEMPTS_MAX, initial=1, help_text="Runs per task and model."
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["models"].queryset = ModelConfig.objects.filter(team=team)  # type: ignore[attr-defined]


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=list(FORMATS.items()))
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="All projects"
    )
    model = forms.ModelChoiceField(
        queryset=ModelConfig.objects.none(), required=False, empty_label="All models"
    )
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Finished from"
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Finished until"
    )
    outcome = forms.ChoiceField(choices=list(OUTCOMES.items()), initial="any")
    extras = forms.BooleanField(
        required=False,
        initial=True,
        label="Reward and run metadata on every line",
        help_text="OpenAI's fine-tuning upload accepts only messages and tools: untick for a file to upload as it is.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(team=team)  # type: ignore[attr-defined]
        self.fields["model"].queryset = ModelConfig.objects.filter(team=team)  # type: ignore[attr-defined]

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            project=data["project"].pk if data.get("project") else None,
            model=data["model"].pk if data.get("model") else None,
            since=data.get("since"),
            until=data.get("until"),
            outcome=data.get("outcome") or "any",
        )
