from django.urls import path

from runs import views

urlpatterns = [
    path("team/models/", views.model_list, name="model_list"),
    path("team/models/new/", views.model_new, name="model_new"),
    path("team/models/<int:model_id>/", views.model_edit, name="model_edit"),
    path("team/models/<int:model_id>/test/", views.model_test, name="model_test"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:run_id>/approve-plan/", views.run_approve_plan, name="run_approve_plan"),
    path("runs/<int:run_id>/retry/", views.run_retry, name="run_retry"),
]
