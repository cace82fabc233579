from __future__ import annotations

import re
from typing import Any

from django import forms

from intents.models import (
    ATTEMPTS_MAX,
    CRITERIA_MAX,
    DESCRIPTION_MAX,
    LABEL_MAX,
    LABELS_MAX,
    TITLE_MAX,
    Intent,
)

_LABEL_RE = re.compile(r"^[\w][\w .:/+-]*$")


def _too_long(limit: int) -> str:
    return f"Keep this under {limit:,} characters (it has %(show_value)s)."


class IntentForm(forms.ModelForm):
    labels_text = forms.CharField(
        label="Labels",
        required=False,
        max_length=LABELS_MAX * (LABEL_MAX + 2),
        help_text="Comma-separated, e.g. bug, backend.",
    )

    class Meta:
        model = Intent
        fields = ["title", "description", "acceptance_criteria", "priority", "attempts", "requires_plan_approval", "model"]
        labels = {
            "description": "What you want",
            "acceptance_criteria": "How you will know it is done",
            "attempts": "Attempts (best of N)",
            "requires_plan_approval": "Approve the agent's plan before it writes code",
        }
        help_texts = {
            "description": "Markdown. Context, constraints, pointers to code.",
            "acceptance_criteria": "The tests or behaviour that must hold. The agent is graded by the project's tests.",
            "attempts": f"Run up to {ATTEMPTS_MAX} agents in parallel; the best by test results is proposed.",
        }
        widgets = {
            "title": forms.TextInput(attrs={"autofocus": True, "placeholder": "Fix the off-by-one in pagination"}),
            "description": forms.Textarea(attrs={"rows": 8}),
            "acceptance_criteria": forms.Textarea(attrs={"rows": 4}),
        }
        error_messages = {
            "title": {"max_length": _too_long(TITLE_MAX)},
            "description": {"max_length": _too_long(DESCRIPTION_MAX)},
            "acceptance_criteria": {"max_length": _too_long(CRITERIA_MAX)},
        }

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from runs.models import ModelConfig

        self.fields["model"].queryset = ModelConfig.objects.filter(team=team)
        self.fields["model"].required = False
        self.fields["model"].empty_label = "Project or team default"
        self.fields["attempts"].widget.attrs.update(min=1, max=ATTEMPTS_MAX)
        if self.instance.pk:
            self.fields["labels_text"].initial = ", ".join(self.instance.labels)

    def clean_title(self) -> str:
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError("Give the intent a title.")
        return title

    def clean_labels_text(self) -> list[str]:
        raw = self.cleaned_data.get("labels_text") or ""
        labels: list[str] = []
        for part in raw.split(","):
            label = part.strip().lower()
            if not label or label in labels:
                continue
            if len(label) > LABEL_MAX:
                raise forms.ValidationError(f"Label {label[:20]!r}… is longer than {LABEL_MAX} characters.")
            if not _LABEL_RE.match(label):
                raise forms.ValidationError(f"Label {label!r} may use letters, digits, spaces and . : / + - only.")
            labels.append(label)
        if len(labels) > LABELS_MAX:
            raise forms.ValidationError(f"At most {LABELS_MAX} labels.")
        return labels

    def save(self, commit: bool = True) -> Intent:
        self.instance.labels = self.cleaned_data.get("labels_text", [])
        return super().save(commit=commit)


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Leave a comment (Markdown)"}),
        error_messages={"max_length": _too_long(20_000), "required": "Write something first."},
        label="Comment",
    )


class PreviewForm(forms.Form):
    text = forms.CharField(required=False, max_length=DESCRIPTION_MAX)
