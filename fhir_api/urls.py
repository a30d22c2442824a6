from django.urls import path

from . import views

app_name = "fhir"

urlpatterns = [
    path("", views.bundle_transaction, name="transaction"),
    path("metadata", views.metadata, name="metadata"),
    path("<str:kind>", views.resource_type, name="type"),
    path("<str:kind>/<str:pk>", views.resource_read, name="read"),
]
