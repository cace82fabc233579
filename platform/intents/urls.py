from django.urls import path

from intents import views

urlpatterns = [
    path("projects/<int:project_id>/intents/new/", views.intent_new, name="intent_new"),
    path("intents/preview/", views.intent_preview, name="intent_preview"),
    path("intents/<int:intent_id>/", views.intent_detail, name="intent_detail"),
    path("intents/<int:intent_id>/comment/", views.intent_comment, name="intent_comment"),
    path("intents/<int:intent_id>/queue/", views.intent_queue, name="intent_queue"),
    path("intents/<int:intent_id>/cancel/", views.intent_cancel, name="intent_cancel"),
]
