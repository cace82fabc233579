from __future__ import annotations

from typing import Any

from django import forms

from runs.models import ModelConfig


class ModelConfigForm(forms.ModelForm):
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again, never sent to the sandbox. Leave empty to keep the stored key.",
    )
    base_url = forms.URLField(
        label="Base URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        widget=forms.TextInput(attrs={"class": "code"}),
        help_text="For OpenAI-compatible servers, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama). Empty: the provider's own API.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")
    make_default = forms.BooleanField(required=False, label="Use for the team's intents by default")

    class Meta:
        model = ModelConfig
        fields = ["name", "provider", "base_url", "model", "input_price", "output_price", "context_window", "tool_mode"]
        help_texts = {
            "model": "The model name the server expects, e.g. gpt-4.1, claude-sonnet-4-5, qwen2.5-coder:32b.",
            "tool_mode": "Servers that ignore tools work in text mode: one shell block per reply.",
        }
        widgets = {"model": forms.TextInput(attrs={"class": "code"})}

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        if self.instance.pk:
            self.fields["make_default"].initial = team.default_model_id == self.instance.pk

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if ModelConfig.objects.filter(team=self.team, name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This team already has a model with that name.")
        return name

    def clean_base_url(self) -> str:
        url = (self.cleaned_data.get("base_url") or "").strip().rstrip("/")
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("provider") == "openai" and not data.get("base_url") and not (data.get("api_key") or self.instance.api_key_encrypted):
            self.add_error("base_url", "Give the server's base URL, or an API key for OpenAI's own API.")
        return data


class PlanForm(forms.Form):
    plan = forms.CharField(widget=forms.Textarea(attrs={"rows": 10, "class": "code"}), max_length=20_000)
