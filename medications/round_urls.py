from django.urls import path

from .views import rounds as views

urlpatterns = [
    path("homes/<int:home_id>/round/", views.round_view, name="round"),
    path("doses/<int:dose_id>/", views.dose_page, name="dose"),
    path("doses/<int:dose_id>/record/", views.dose_record, name="dose_record"),
    path("lines/<int:line_id>/prn/", views.prn_give, name="prn_give"),
    path(
        "administrations/<int:administration_id>/follow-up/",
        views.prn_follow_up,
        name="prn_follow_up",
    ),
    path("administrations/<int:administration_id>/correct/", views.correct, name="correct"),
    path("residents/<int:resident_id>/homely-remedy/", views.homely_remedy, name="homely_remedy"),
]
