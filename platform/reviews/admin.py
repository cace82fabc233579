from django.contrib import admin

from reviews.models import ChangeRequest, Review, ReviewComment


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    raw_id_fields = ["reviewer"]


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "intent", "status", "branch", "rounds", "created_at", "merged_at"]
    list_filter = ["status"]
    raw_id_fields = ["intent", "team", "project", "run", "approved_by", "merged_by"]
    inlines = [ReviewInline]


@admin.register(ReviewComment)
class ReviewCommentAdmin(admin.ModelAdmin):
    list_display = ["change_request", "path", "line", "author", "sent_to_agent", "created_at"]
    raw_id_fields = ["change_request", "author", "run"]
