"""Every URL of the medications app, under the `medications:` namespace, by subject:
prescriptions (R-RX-*), rounds (R-MAR-*), the MAR chart and its prints (R-MAR-12, H-10), and
stock, the CD register and temperatures (R-STK-1..6, R-CD-1..3)."""

from django.urls import path

from .views import (
    chart,
    documents,
    offline,
    opened,
    orders,
    paper,
    pharmacy,
    prescriptions,
    prints,
    rounds,
    scanning,
    stock,
)

app_name = "medications"

urlpatterns = [
    # Prescriptions
    path("homes/<int:home_id>/residents/", prescriptions.resident_list, name="resident_list"),
    path(
        "homes/<int:home_id>/prescriptions/to-check/",
        prescriptions.awaiting_check,
        name="awaiting_check",
    ),
    path("residents/<int:resident_id>/", prescriptions.resident_profile, name="resident_profile"),
    path("residents/<int:resident_id>/lines/new/", prescriptions.line_new, name="line_new"),
    path(
        "residents/<int:resident_id>/restarts/",
        prescriptions.line_restarts,
        name="line_restarts",
    ),
    path(
        "residents/<int:resident_id>/homely-remedies/authorisations/",
        prescriptions.homely_authorisations,
        name="homely_authorisations",
    ),
    path(
        "homely-authorisations/<int:authorisation_id>/withdraw/",
        prescriptions.homely_authorisation_withdraw,
        name="homely_authorisation_withdraw",
    ),
    path("lines/<int:line_id>/", prescriptions.line_detail, name="line_detail"),
    path("lines/<int:line_id>/check/", prescriptions.line_check, name="line_check"),
    path("lines/<int:line_id>/stop/", prescriptions.line_stop, name="line_stop"),
    path("lines/<int:line_id>/prn-protocol/", prescriptions.prn_protocol, name="prn_protocol"),
    path("lines/<int:line_id>/covert-plan/", prescriptions.covert_plan, name="covert_plan"),
    path("lines/<int:line_id>/documents/", documents.line_documents, name="line_documents"),
    path("lines/<int:line_id>/self-admin/", prescriptions.self_admin, name="self_admin"),
    path("lines/<int:line_id>/doses/", prescriptions.variable_doses, name="variable_doses"),
    path("lines/<int:line_id>/schedule/", prescriptions.schedule_change, name="schedule_change"),
    path(
        "variable-doses/<int:variable_dose_id>/check/",
        prescriptions.variable_dose_check,
        name="variable_dose_check",
    ),
    path(
        "schedule-versions/<int:version_id>/check/",
        prescriptions.schedule_check,
        name="schedule_check",
    ),
    # Medicine rounds
    path("homes/<int:home_id>/round/", rounds.round_view, name="round"),
    path("doses/<int:dose_id>/", rounds.dose_page, name="dose"),
    path("doses/<int:dose_id>/record/", rounds.dose_record, name="dose_record"),
    # a refused record queued on a tablet offline, discarded with a reason (R-OFF-2)
    path(
        "doses/<int:dose_id>/offline-discard/",
        offline.dose_offline_discard,
        name="dose_offline_discard",
    ),
    path("lines/<int:line_id>/prn/", rounds.prn_give, name="prn_give"),
    path("lines/<int:line_id>/scan-check/", scanning.scan_check, name="scan_check"),
    path("homes/<int:home_id>/scan-decode/", scanning.scan_decode, name="scan_decode"),
    path(
        "administrations/<int:administration_id>/follow-up/",
        rounds.prn_follow_up,
        name="prn_follow_up",
    ),
    path("administrations/<int:administration_id>/correct/", rounds.correct, name="correct"),
    path("residents/<int:resident_id>/homely-remedy/", rounds.homely_remedy, name="homely_remedy"),
    # The MAR chart and its prints
    path("residents/<int:resident_id>/mar/", chart.resident_mar, name="resident_mar"),
    path("residents/<int:resident_id>/mar.pdf", chart.resident_mar_pdf, name="resident_mar_pdf"),
    path(
        "homes/<int:home_id>/units/<int:unit_id>/mar.pdf",
        prints.unit_mar_pdf,
        name="unit_mar_pdf",
    ),
    # The unit's downtime kit: MAR of the next three days and CD register pages (R-OFF-4)
    path(
        "homes/<int:home_id>/units/<int:unit_id>/downtime-mar.pdf",
        prints.downtime_mar,
        name="downtime_mar",
    ),
    # Paper rounds and their back-entry (R-OFF-4)
    path(
        "homes/<int:home_id>/units/<int:unit_id>/paper-round/",
        paper.paper_round,
        name="paper_round",
    ),
    path(
        "homes/<int:home_id>/units/<int:unit_id>/paper-round/start/",
        paper.paper_round_begin,
        name="paper_round_start",
    ),
    path(
        "homes/<int:home_id>/units/<int:unit_id>/paper-round/end/",
        paper.paper_round_finish,
        name="paper_round_end",
    ),
    # A unit's or the whole home's MAR charts, built in the background (R-MAR-12, H-10)
    path("homes/<int:home_id>/mar-prints/", prints.mar_prints, name="mar_prints"),
    path("homes/<int:home_id>/mar-prints/new/", prints.mar_print_new, name="mar_print_new"),
    path("mar-prints/<int:print_id>/status/", prints.mar_print_status, name="mar_print_status"),
    path(
        "mar-prints/<int:print_id>/download/",
        prints.mar_print_download,
        name="mar_print_download",
    ),
    path("mar-prints/<int:print_id>/retry/", prints.mar_print_retry, name="mar_print_retry"),
    # Stock, the CD register and temperatures
    path("homes/<int:home_id>/stock/", stock.stock_overview, name="stock_overview"),
    path("homes/<int:home_id>/stock/reorder/", stock.stock_reorder, name="stock_reorder"),
    path("homes/<int:home_id>/stock/homely-remedies/", stock.homely_stock, name="homely_stock"),
    path(
        "homes/<int:home_id>/stock/homely-remedies/receive/",
        stock.homely_stock_receive,
        name="homely_stock_receive",
    ),
    path("stock/lines/<int:line_id>/", stock.stock_line, name="stock_line"),
    path("stock/lines/<int:line_id>/receive/", stock.stock_receive, name="stock_receive"),
    path("stock/lines/<int:line_id>/barcode-link/", stock.barcode_relink, name="barcode_relink"),
    path("stock/lines/<int:line_id>/dispose/", stock.stock_dispose, name="stock_dispose"),
    path("stock/lines/<int:line_id>/check/", stock.stock_check, name="stock_check"),
    path("stock/lines/<int:line_id>/transfer/", stock.stock_transfer, name="stock_transfer"),
    path("stock/movements/<int:movement_id>/correct/", stock.stock_correct, name="stock_correct"),
    # Opened medicines and their in-use expiry (R-STK-7)
    path("homes/<int:home_id>/stock/opened/", opened.opened_list, name="opened_list"),
    path("stock/lines/<int:line_id>/opened/", opened.supply_open, name="supply_open"),
    path("stock/lines/<int:line_id>/opened/end/", opened.supply_end, name="supply_end"),
    path("homes/<int:home_id>/cd-register/", stock.cd_register_index, name="cd_register_index"),
    path(
        "residents/<int:resident_id>/cd-register/<int:medicine_id>/",
        stock.cd_register,
        name="cd_register",
    ),
    path(
        "residents/<int:resident_id>/cd-register/<int:medicine_id>/pdf/",
        stock.cd_register_pdf,
        name="cd_register_pdf",
    ),
    path("homes/<int:home_id>/temperatures/", stock.temperatures, name="temperatures"),
    path(
        "homes/<int:home_id>/temperatures/record/",
        stock.temperature_record,
        name="temperature_record",
    ),
    path(
        "homes/<int:home_id>/temperatures/locations/",
        stock.storage_location_add,
        name="storage_location_add",
    ),
    # The ordering cycle and goods in (R-ORD-1, R-ORD-2)
    path("homes/<int:home_id>/orders/", orders.orders, name="orders"),
    path("homes/<int:home_id>/orders/cycle/", orders.order_cycle, name="order_cycle"),
    path("homes/<int:home_id>/orders/prepare/", orders.order_prepare, name="order_prepare"),
    path("homes/<int:home_id>/orders/chase/", orders.order_chase, name="order_chase"),
    path("orders/<int:order_id>/", orders.order_detail, name="order"),
    path("orders/<int:order_id>/items/add/", orders.order_item_add, name="order_item_add"),
    path("orders/<int:order_id>/approve/", orders.order_approve, name="order_approve"),
    path("orders/<int:order_id>/order.pdf", orders.order_pdf_download, name="order_pdf"),
    path("orders/<int:order_id>/goods-in/", orders.goods_in, name="goods_in"),
    path(
        "order-items/<int:order_item_id>/change/",
        orders.order_item_change,
        name="order_item_change",
    ),
    path(
        "delivery-discrepancies/<int:delivery_discrepancy_id>/follow-up/",
        orders.discrepancy_follow_up,
        name="delivery_discrepancy_follow_up",
    ),
    # The pharmacy import (R-RX-12, R-FHIR-5)
    path(
        "homes/<int:home_id>/pharmacy-imports/",
        pharmacy.pharmacy_imports,
        name="pharmacy_imports",
    ),
    path(
        "residents/<int:resident_id>/pharmacy-import/",
        pharmacy.pharmacy_import_check,
        name="pharmacy_import_check",
    ),
    path(
        "pharmacy-imports/<int:import_id>/accept/",
        pharmacy.pharmacy_import_accept,
        name="pharmacy_import_accept",
    ),
    path(
        "pharmacy-imports/<int:import_id>/reject/",
        pharmacy.pharmacy_import_reject,
        name="pharmacy_import_reject",
    ),
]
