"""PDF rendering with WeasyPrint (R-MAR-12, R-CD-1, R-AUD-4): HTML templates made for print."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string


def _static_fetcher():
    """Resolve /static/ URLs from the project's files, never over the network (a print
    stylesheet such as static/emar/order_pdf.css). WeasyPrint 70 fetches through a
    `URLFetcher`; this one only ever opens local files and data: URLs."""
    from weasyprint.urls import URLFetcher

    class StaticFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("file://") or url.startswith("data:"):
                return super().fetch(url, headers)
            path = url.split(settings.STATIC_URL, 1)[-1] if settings.STATIC_URL in url else None
            found = finders.find(path) if path else None
            if not found:
                raise ValueError(f"PDF resource not available offline: {url}")
            return super().fetch(Path(str(found)).as_uri(), headers)

    return StaticFetcher(allowed_protocols=("file", "data"))


def render_pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template, context)
    return HTML(
        string=html, base_url="http://emar.invalid/", url_fetcher=_static_fetcher()
    ).write_pdf()


def render_pdf_parts(parts: list[tuple[str, dict]]) -> bytes:
    """Several print templates as one PDF, each part keeping its own page size and orientation
    (the downtime kit: the MAR in landscape, then the CD register in portrait)."""
    from weasyprint import HTML

    documents = [
        HTML(
            string=render_to_string(template, context),
            base_url="http://emar.invalid/",
            url_fetcher=_static_fetcher(),
        ).render()
        for template, context in parts
    ]
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()
