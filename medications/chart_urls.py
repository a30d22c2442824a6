from django.urls import path

from .views import chart as chart_views
from .views import prints as print_views

urlpatterns = [
    path("residents/<int:resident_id>/mar/", chart_views.resident_mar, name="resident_mar"),
    path(
        "residents/<int:resident_id>/mar.pdf", chart_views.resident_mar_pdf, name="resident_mar_pdf"
    ),
    path(
        "homes/<int:home_id>/units/<int:unit_id>/mar.pdf",
        print_views.unit_mar_pdf,
        name="unit_mar_pdf",
    ),
    # A unit's or the whole home's MAR charts, built in the background (R-MAR-12, H-10)
    path("homes/<int:home_id>/mar-prints/", print_views.mar_prints, name="mar_prints"),
    path("homes/<int:home_id>/mar-prints/new/", print_views.mar_print_new, name="mar_print_new"),
    path(
        "mar-prints/<int:print_id>/status/", print_views.mar_print_status, name="mar_print_status"
    ),
    path(
        "mar-prints/<int:print_id>/download/",
        print_views.mar_print_download,
        name="mar_print_download",
    ),
    path("mar-prints/<int:print_id>/retry/", print_views.mar_print_retry, name="mar_print_retry"),
]
