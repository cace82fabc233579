from django.contrib import admin

from projects.models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "repo_url", "default_branch", "network_policy", "created_at"]
    list_filter = ["network_policy", "merge_strategy"]
    search_fields = ["name", "repo_url"]
    # The token is encrypted and never shown; set it from the project's settings page.
    exclude = ["credentials_encrypted"]
