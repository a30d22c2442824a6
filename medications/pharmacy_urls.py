from django.urls import path

from . import pharmacy_views

urlpatterns = [
    path(
        "homes/<int:home_id>/pharmacy-imports/",
        pharmacy_views.pharmacy_imports,
        name="pharmacy_imports",
    ),
    path(
        "residents/<int:resident_id>/pharmacy-import/",
        pharmacy_views.pharmacy_import_check,
        name="pharmacy_import_check",
    ),
    path(
        "pharmacy-imports/<int:import_id>/accept/",
        pharmacy_views.pharmacy_import_accept,
        name="pharmacy_import_accept",
    ),
    path(
        "pharmacy-imports/<int:import_id>/reject/",
        pharmacy_views.pharmacy_import_reject,
        name="pharmacy_import_reject",
    ),
]
