from django.contrib import admin

from runs.models import AgentRun, ModelConfig, RunEvent, Worker


@admin.register(ModelConfig)
class ModelConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "provider", "model", "base_url"]
    list_filter = ["provider"]
    exclude = ["api_key_encrypted"]  # set from Team → Models; never shown


@admin.register(AgentRun)
class AgentRunAdmin(admin.ModelAdmin):
    list_display = ["id", "intent", "attempt", "round", "status", "outcome", "model_name", "cost", "created_at"]
    list_filter = ["status", "outcome", "kind"]
    raw_id_fields = ["intent", "team", "project", "model"]
    exclude = ["state", "trajectory"]  # large: export them from the run page


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "kind", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["run"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["hostname", "slots", "active", "sandbox_backend", "heartbeat_at"]
