"""docs/tools/check_math.py finds raw LaTeX outside arithmatex elements, and only there."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_math", ROOT / "docs/tools/check_math.py")
check_math = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_math)


def test_raw_inline_and_display_math_are_found():
    html = "<p>chunks of about \\(\\sqrt{T}\\) steps</p><p>\\[ x^2 \\]</p><p>$$y$$</p>"
    found = check_math.find_raw_math(html)
    assert len(found) == 4  # \( and \[ once each, $$ twice
    assert "sqrt{T}" in found[0]


def test_arithmatex_code_and_scripts_are_not_raw_math():
    html = (
        '<p>about <span class="arithmatex">\\(\\sqrt{T}\\)</span> steps</p>'
        '<div class="arithmatex">\\[ \\int_0^1 \\frac{a}{b} \\, dx \\]</div>'
        "<pre><code>re.compile(r'\\(')</code></pre><p>inline <code>\\[0]</code></p>"
        "<script>var s = '\\\\(';</script><p>a<br>b<img src='x.png'> text</p>"
    )
    assert check_math.find_raw_math(html) == []
    assert check_math.arithmatex_count(html) == 2


def test_check_site_reports_pages(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "index.html").write_text('<span class="arithmatex">\\(x\\)</span>')
    (tmp_path / "bad.html").write_text("<p>\\(x\\)</p>")
    assert list(check_math.check_site(tmp_path)) == ["bad.html"]
    assert check_math.main([str(tmp_path)]) == 1
    (tmp_path / "bad.html").unlink()
    assert check_math.main([str(tmp_path)]) == 0
