"""Linking a resident's document to a line (R-RES-7)."""

from __future__ import annotations

from django import forms

from emar.forms import Form
from residents.models import ResidentDocument


class LineDocumentForm(Form):
    document = forms.ModelChoiceField(
        queryset=ResidentDocument.objects.none(),
        label="Document",
        help_text="Upload it on the resident's documents page first.",
    )

    def __init__(self, *args, line, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["document"]
        field.queryset = ResidentDocument.objects.filter(
            resident_id=line.resident_id, withdrawal__isnull=True
        ).exclude(line_links__line=line)
        field.label_from_instance = lambda d: (  # type: ignore[attr-defined]
            f"{d.title} ({d.get_kind_display()}, {d.uploaded_at:%d %b %Y})"
        )
