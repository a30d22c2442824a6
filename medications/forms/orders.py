"""Forms for the ordering cycle and goods in (R-ORD-1, R-ORD-2): validate and convert; the rules
live in medications.services.orders."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from emar.forms import Form, IdempotencyKeyMixin

from ..models import DeliveryDiscrepancyKind, OrderItem, Pharmacy, PrescriptionLine
from .rounds import WitnessMixin

# Wide enough that -1 and 10^9 reach the service, which says what is wrong with them.
QTY = {"max_digits": 13, "decimal_places": 3}
DATE = forms.DateInput(attrs={"type": "date"})


class CycleForm(Form):
    start = forms.DateField(label="First day of a cycle", widget=DATE)
    order_days_before = forms.IntegerField(
        label="Order this many days before the next cycle", min_value=1, max_value=21
    )
    pharmacy = forms.ModelChoiceField(
        queryset=Pharmacy.objects.none(), required=False, label="Supplying pharmacy"
    )
    order_email = forms.EmailField(
        required=False, label="The pharmacy's email address for orders", max_length=254
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pharmacy"].queryset = home.pharmacies.order_by("name")


class ItemForm(Form):
    quantity = forms.DecimalField(**QTY)
    reason = forms.CharField(required=False, max_length=500, label="Why changed")


class InterimForm(Form):
    line = forms.ModelChoiceField(queryset=PrescriptionLine.objects.none(), label="Line")
    quantity = forms.DecimalField(**QTY)
    reason = forms.CharField(max_length=500, label="Why it is added")

    def __init__(self, *args, lines, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = lines
        self.fields["line"].label_from_instance = lambda line: (
            f"{line.resident.full_name} (room {line.resident.room}): {line.medicine.name}"
        )


class ApproveForm(Form):
    confirm = forms.BooleanField(
        label="I have checked every quantity; send this order to the pharmacy"
    )


KIND_CHOICES = [("", "—"), *DeliveryDiscrepancyKind.choices]


class DeliveryForm(IdempotencyKeyMixin, WitnessMixin):
    """One row per item of the order (`q_<pk>`, `batch_<pk>`, `expiry_<pk>`, `kind_<pk>`,
    `dq_<pk>`, `note_<pk>`), an item not on the order, and one witness for the CDs."""

    extra_description = forms.CharField(
        required=False, max_length=300, label="Delivered but not on the order (what, for whom)"
    )
    extra_kind = forms.ChoiceField(
        choices=[(DeliveryDiscrepancyKind.NOT_ORDERED, "Not ordered")], required=False
    )
    note = forms.CharField(required=False, max_length=500, label="Note on the delivery")

    def __init__(self, *args, items: list[OrderItem], home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.items = items
        for item in items:
            pk = item.pk
            self.fields[f"q_{pk}"] = forms.DecimalField(required=False, label="Received", **QTY)
            self.fields[f"batch_{pk}"] = forms.CharField(
                required=False, max_length=60, label="Batch"
            )
            self.fields[f"expiry_{pk}"] = forms.DateField(
                required=False, label="Expiry", widget=DATE
            )
            self.fields[f"kind_{pk}"] = forms.ChoiceField(
                choices=KIND_CHOICES, required=False, label="Discrepancy"
            )
            self.fields[f"dq_{pk}"] = forms.DecimalField(
                required=False, label="How many affected", **QTY
            )
            self.fields[f"note_{pk}"] = forms.CharField(
                required=False, max_length=300, label="Discrepancy note"
            )

    def rows(self):
        """(item, its bound fields) for the template."""
        for item in self.items:
            pk = item.pk
            yield item, [self[f"{n}_{pk}"] for n in ("q", "batch", "expiry", "kind", "dq", "note")]

    def entered(self) -> list[tuple[OrderItem, Decimal, str, object, str, Decimal | None, str]]:
        d = self.cleaned_data
        out = []
        for item in self.items:
            pk = item.pk
            q, kind = d.get(f"q_{pk}"), d.get(f"kind_{pk}") or ""
            if q is None and not kind:
                continue
            out.append(
                (
                    item,
                    q if q is not None else Decimal(0),
                    d.get(f"batch_{pk}", ""),
                    d.get(f"expiry_{pk}"),
                    kind,
                    d.get(f"dq_{pk}"),
                    d.get(f"note_{pk}", ""),
                )
            )
        return out


class ResolveForm(Form):
    resolution = forms.CharField(max_length=1000, label="How it was followed up")
