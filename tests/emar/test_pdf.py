import io

from pypdf import PdfReader

from emar.pdf import render_pdf


def test_render_pdf_makes_an_a4_landscape_pdf_with_page_numbers():
    pdf = PdfReader(io.BytesIO(render_pdf("print/base.html", {})))
    box = pdf.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)
    assert "Page 1 of 1" in pdf.pages[0].extract_text()
