from django.contrib import admin

from intents.models import Comment, Intent


class CommentInline(admin.StackedInline):
    model = Comment
    extra = 0


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "project", "status", "priority", "author", "created_at"]
    list_filter = ["status", "priority"]
    search_fields = ["title"]
    raw_id_fields = ["project", "team", "author", "model"]
    inlines = [CommentInline]
