"""Forms for the ordering cycle and goods in: validate and convert; the rules (quantity bounds,
what is outstanding, expiry, witness for a CD) live in medications.services.orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms

from emar.forms import Form, IdempotencyKeyMixin

from ..models import (
    MAX_ORDER_QUANTITY,
    DeliveryProblem,
    LineStatus,
    OrderItem,
    Pharmacy,
    PrescriptionLine,
)
from .rounds import WitnessMixin
from .stock import _local_datetime

QTY = {"max_digits": 15, "decimal_places": 3}


def order_quantity(label: str) -> forms.DecimalField:
    """0 < quantity <= 10000 (R-ORD-1), refused in words; the service checks it again."""
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0.001"),
        max_value=MAX_ORDER_QUANTITY,
        error_messages={
            "min_value": "The quantity must be more than zero.",
            "max_value": f"The quantity cannot be more than {MAX_ORDER_QUANTITY}.",
        },
        **QTY,
    )


DATE = forms.DateInput(attrs={"type": "date"})


class CycleForm(Form):
    start_date = forms.DateField(
        label="First day of a cycle",
        widget=DATE,
        help_text="Any cycle's first day; the next cycles follow every 28 days.",
    )
    lead_days = forms.IntegerField(
        label="Order this many days before the next cycle", min_value=1, max_value=21
    )
    pharmacy = forms.ModelChoiceField(
        queryset=Pharmacy.objects.none(), required=False, label="Supplying pharmacy"
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pharmacy"].queryset = Pharmacy.objects.filter(homes=home)


class PrepareForm(Form):
    confirm = forms.BooleanField(label="Prepare the order for the next cycle now")


class ApproveForm(Form):
    confirm = forms.BooleanField(label="I have checked every item and quantity on this order")


class ItemChangeForm(Form):
    quantity = order_quantity("New quantity")
    reason = forms.CharField(label="Reason for the change", max_length=1000)


class ItemAddForm(IdempotencyKeyMixin):
    line = forms.ModelChoiceField(queryset=PrescriptionLine.objects.none(), label="Medicine")
    quantity = order_quantity("Quantity")
    reason = forms.CharField(label="Reason for adding it", max_length=1000)

    def __init__(self, *args, order, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["line"]
        field.queryset = (
            PrescriptionLine.objects.filter(home_id=order.home_id, status=LineStatus.ACTIVE)
            .exclude(pk__in=OrderItem.objects.filter(order=order).values("line_id"))
            .select_related("resident", "medicine")
            .order_by("resident__full_name", "medicine__name")
        )
        field.label_from_instance = lambda ln: f"{ln.resident.full_name}: {ln.medicine.name}"


class FollowUpForm(IdempotencyKeyMixin):
    resolution = forms.CharField(
        label="What was done", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    resolved = forms.BooleanField(required=False, label="This resolves the discrepancy")


PROBLEMS = [("", "No problem"), *DeliveryProblem.choices]


class GoodsInForm(IdempotencyKeyMixin, WitnessMixin):
    """A whole delivery against the order: per outstanding item the quantity, batch and expiry
    received, and any problem; plus one problem not tied to an item (e.g. a pack not ordered)."""

    past_dates = ("received_on",)
    received_on = forms.DateField(required=False, label="Date received", widget=DATE)
    note = forms.CharField(required=False, max_length=1000, label="Note on the delivery")
    extra_kind = forms.ChoiceField(
        choices=PROBLEMS, required=False, label="Another problem with the delivery"
    )
    extra_description = forms.CharField(
        required=False, max_length=1000, label="Describe it (e.g. what came that was not ordered)"
    )

    def __init__(self, *args, home, items: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.items = items  # OutstandingItem rows
        for row in items:
            pk, what = row.item.pk, f"{row.item.medicine.name} for {row.item.resident.full_name}"
            self.fields[f"q_{pk}"] = forms.DecimalField(
                required=False, label=f"Quantity received: {what}", min_value=0, **QTY
            )
            self.fields[f"batch_{pk}"] = forms.CharField(
                required=False, max_length=60, label=f"Batch: {what}"
            )
            self.fields[f"expiry_{pk}"] = forms.DateField(
                required=False, label=f"Expiry: {what}", widget=DATE
            )
            self.fields[f"scan_{pk}"] = forms.CharField(
                required=False, max_length=200, label=f"Scan the pack: {what}"
            )
            self.fields[f"problem_{pk}"] = forms.ChoiceField(
                choices=PROBLEMS, required=False, label=f"Problem: {what}"
            )
            self.fields[f"problem_note_{pk}"] = forms.CharField(
                required=False, max_length=1000, label=f"Problem description: {what}"
            )

    def rows(self) -> list[dict]:
        """The fields of each item's row, for the template."""
        return [
            {
                "row": row,
                "quantity": self[f"q_{row.item.pk}"],
                "batch": self[f"batch_{row.item.pk}"],
                "expiry": self[f"expiry_{row.item.pk}"],
                "scan": self[f"scan_{row.item.pk}"],
                "problem": self[f"problem_{row.item.pk}"],
                "problem_note": self[f"problem_note_{row.item.pk}"],
            }
            for row in self.items
        ]

    def clean(self):
        data = super().clean()
        received = problems = 0
        for row in self.items:
            pk = row.item.pk
            quantity: Decimal | None = data.get(f"q_{pk}")
            if quantity:
                received += 1
            kind, note = data.get(f"problem_{pk}"), (data.get(f"problem_note_{pk}") or "").strip()
            if kind and not note:
                self.add_error(f"problem_note_{pk}", "Describe the problem.")
            if note and not kind:
                self.add_error(f"problem_{pk}", "Choose what the problem is.")
            problems += bool(kind)
        kind, note = data.get("extra_kind"), (data.get("extra_description") or "").strip()
        if kind and not note:
            self.add_error("extra_description", "Describe the problem.")
        if note and not kind:
            self.add_error("extra_kind", "Choose what the problem is.")
        problems += bool(kind)
        if not received and not problems and not self.errors:
            raise forms.ValidationError(
                "Enter what was received, or record what is missing or wrong."
            )
        return data

    def at(self) -> dt.datetime | None:
        return _local_datetime(self.home, self.cleaned_data.get("received_on"))
