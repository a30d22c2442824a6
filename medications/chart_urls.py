from django.urls import path

from . import chart_views

urlpatterns = [
    path("residents/<int:resident_id>/mar/", chart_views.resident_mar, name="resident_mar"),
    path(
        "residents/<int:resident_id>/mar.pdf", chart_views.resident_mar_pdf, name="resident_mar_pdf"
    ),
    path(
        "homes/<int:home_id>/units/<int:unit_id>/mar.pdf",
        chart_views.unit_mar_pdf,
        name="unit_mar_pdf",
    ),
]
