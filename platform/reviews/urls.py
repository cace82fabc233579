from django.urls import path

from reviews import views

urlpatterns = [
    path("changes/<int:cr_id>/", views.change_request, name="change_request"),
    path("changes/<int:cr_id>/comments/new/", views.comment_form, name="cr_comment_form"),
    path("changes/<int:cr_id>/comments/", views.comment, name="cr_comment"),
    path("changes/<int:cr_id>/decide/", views.decide, name="cr_decide"),
    path("changes/<int:cr_id>/merge/", views.merge_view, name="cr_merge"),
    path("changes/<int:cr_id>/check/", views.check, name="cr_check"),
    path("changes/<int:cr_id>/rebase/", views.rebase, name="cr_rebase"),
    path("changes/<int:cr_id>/attempt/", views.pick_attempt, name="cr_pick_attempt"),
    path("changes/<int:cr_id>/delete-branch/", views.delete_branch, name="cr_delete_branch"),
    path("changes/<int:cr_id>/diff.patch", views.patch, name="cr_patch"),
    path("changes/<int:cr_id>/commit/", views.merged_commit, name="cr_commit"),
    path("runs/<int:run_id>/trajectory.jsonl", views.run_trajectory, name="run_trajectory"),
]
