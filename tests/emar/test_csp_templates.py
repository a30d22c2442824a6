"""The Content-Security-Policy allows only the site's own scripts and styles (R-SEC-3), so no
web page template may carry inline styles or scripts (print templates for PDFs are exempt:
WeasyPrint does not enforce CSP)."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_inline_styles_or_scripts_in_web_templates():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "print" in path.parts or path.parent.name == "print":
            continue
        text = path.read_text()
        if re.search(r"\sstyle=\"", text) or re.search(r"<style[\s>]", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline style")
        if re.search(r"<script(?![^>]*\ssrc=)[^>]*>", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline script")
        if re.search(r"\son[a-z]+=\"", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline event handler")
    assert offenders == []
