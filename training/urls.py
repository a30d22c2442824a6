from django.urls import path

from . import views

urlpatterns = [
    path("homes/<int:home_id>/training/", views.matrix, name="training_matrix"),
    path("homes/<int:home_id>/training/matrix.csv", views.matrix_csv, name="training_matrix_csv"),
    path("homes/<int:home_id>/training/mine/", views.mine, name="training_mine"),
    path(
        "homes/<int:home_id>/training/staff/<int:staff_id>/",
        views.staff,
        name="training_staff",
    ),
    path(
        "homes/<int:home_id>/training/staff/<int:staff_id>/records/",
        views.record_add,
        name="training_record_add",
    ),
    path(
        "homes/<int:home_id>/training/staff/<int:staff_id>/assessments/",
        views.assess,
        name="training_assess",
    ),
    path(
        "homes/<int:home_id>/training/staff/<int:staff_id>/suspend/",
        views.suspend,
        name="training_suspend",
    ),
    path(
        "training/records/<int:record_id>/certificate/",
        views.certificate,
        name="training_certificate",
    ),
    path("homes/<int:home_id>/training/policy/", views.policy, name="training_policy"),
    path(
        "homes/<int:home_id>/training/policy/publish/",
        views.policy_publish,
        name="training_policy_publish",
    ),
    path(
        "training/policies/<int:policy_id>/document/",
        views.policy_document,
        name="training_policy_document",
    ),
    path(
        "training/policies/<int:policy_id>/confirm/",
        views.policy_confirm,
        name="training_policy_confirm",
    ),
]
