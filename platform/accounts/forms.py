from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password

from accounts.models import Role, Team


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "monthly_budget", "max_concurrent_runs"]
        labels = {"monthly_budget": "Monthly model budget (USD)", "max_concurrent_runs": "Concurrent runs"}
        help_texts = {
            "monthly_budget": "The dashboard warns at 80% and 100% of it. Leave empty for no budget.",
            "max_concurrent_runs": "Most agent runs this team may have going at once.",
        }


class NewTeamForm(forms.Form):
    name = forms.CharField(max_length=100)


class AddMemberForm(forms.Form):
    username = forms.CharField(
        max_length=150, help_text="An existing account, or a new one created with the password below."
    )
    email = forms.EmailField(required=False, max_length=254)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Only for a new account; share it with them privately.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        username = data.get("username", "").strip()
        if not username:
            return data
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            password = data.get("password") or ""
            if not password:
                raise forms.ValidationError(
                    f"There is no account named {username}: give a password to create one."
                )
            validate_password(password, User(username=username, email=data.get("email") or ""))
        data["user"] = user
        return data

    def get_or_create_user(self) -> User:
        data = self.cleaned_data
        if data["user"] is not None:
            return data["user"]
        return User.objects.create_user(
            username=data["username"].strip(), email=data.get("email") or "", password=data["password"]
        )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
