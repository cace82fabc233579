from django.urls import path

from evals import export_views, views

urlpatterns = [
    path("evals/", views.suite_list, name="eval_suites"),
    path("evals/import/", views.suite_import, name="eval_import"),
    path("evals/<int:suite_id>/", views.suite_detail, name="eval_suite"),
    path("evals/<int:suite_id>/map/", views.suite_map, name="eval_suite_map"),
    path("evals/<int:suite_id>/run/", views.suite_run, name="eval_suite_run"),
    path("evals/<int:suite_id>/compare/", views.suite_compare, name="eval_compare"),
    path("evals/evaluations/<int:evaluation_id>/", views.evaluation_detail, name="eval_evaluation"),
    path(
        "evals/evaluations/<int:evaluation_id>/predictions.jsonl",
        views.evaluation_predictions,
        name="eval_predictions",
    ),
    path("evals/evaluations/<int:evaluation_id>/report.json", views.evaluation_report, name="eval_report"),
    path("evals/evaluations/<int:evaluation_id>/regrade/", views.evaluation_regrade, name="eval_regrade"),
    path("exports/", export_views.export_page, name="exports"),
    path("exports/<int:export_id>/", export_views.export_detail, name="export_detail"),
    path("exports/<int:export_id>/download/", export_views.export_download, name="export_download"),
]
