"""URLs of stock, the CD register and temperatures (R-STK-1..6, R-CD-1..3)."""

from django.urls import path

from .views import stock as v

urlpatterns = [
    path("homes/<int:home_id>/stock/", v.stock_overview, name="stock_overview"),
    path("homes/<int:home_id>/stock/reorder/", v.stock_reorder, name="stock_reorder"),
    path("homes/<int:home_id>/stock/homely-remedies/", v.homely_stock, name="homely_stock"),
    path(
        "homes/<int:home_id>/stock/homely-remedies/receive/",
        v.homely_stock_receive,
        name="homely_stock_receive",
    ),
    path("stock/lines/<int:line_id>/", v.stock_line, name="stock_line"),
    path("stock/lines/<int:line_id>/receive/", v.stock_receive, name="stock_receive"),
    path("stock/lines/<int:line_id>/dispose/", v.stock_dispose, name="stock_dispose"),
    path("stock/lines/<int:line_id>/check/", v.stock_check, name="stock_check"),
    path("stock/movements/<int:movement_id>/correct/", v.stock_correct, name="stock_correct"),
    path("homes/<int:home_id>/cd-register/", v.cd_register_index, name="cd_register_index"),
    path(
        "residents/<int:resident_id>/cd-register/<int:medicine_id>/",
        v.cd_register,
        name="cd_register",
    ),
    path(
        "residents/<int:resident_id>/cd-register/<int:medicine_id>/pdf/",
        v.cd_register_pdf,
        name="cd_register_pdf",
    ),
    path("homes/<int:home_id>/temperatures/", v.temperatures, name="temperatures"),
    path(
        "homes/<int:home_id>/temperatures/record/",
        v.temperature_record,
        name="temperature_record",
    ),
    path(
        "homes/<int:home_id>/temperatures/locations/",
        v.storage_location_add,
        name="storage_location_add",
    ),
]
