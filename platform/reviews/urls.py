from django.urls import path

from reviews import views

urlpatterns = [
    path("changes/<int:cr_id>/", views.change_request, name="change_request"),
]
