"""What a reader sees in her language, and where the dashboard puts its own words over
Streamlit's and Plotly's: the issue report's problems in Khmer, chart titles clear of the
toolbar."""
from __future__ import annotations

import pandas as pd

from impact.present import charts
from impact.present.texts import problem, text

WORDINGS = {   # as impact/intake words them, with values
    "required: this cell is empty": "ត្រូវតែបំពេញ៖ ក្រឡានេះនៅទទេ",
    "not a registered participant of KWCD": "មិនមែនជាអ្នកចូលរួមដែលបានចុះឈ្មោះរបស់ KWCD ទេ",
    "expected one of karaoke, brothel (could be brothel)": "ត្រូវជាតម្លៃមួយក្នុងចំណោម karaoke, brothel (ប្រហែលជា brothel)",
    "expected one of enrolled, graduated": "ត្រូវជាតម្លៃមួយក្នុងចំណោម enrolled, graduated",
}


def test_a_problem_reads_in_khmer_with_its_values():
    assert {w: problem(w, "km") for w in WORDINGS} == WORDINGS
    assert problem("required: this cell is empty", "en") == "required: this cell is empty"
    assert problem("a wording no text knows", "km") == "a wording no text knows"


def test_every_problem_of_the_demo_workbooks_reads_in_khmer(demo_loaded):
    """A wording of the loader that the texts do not match would stay English: caught here."""
    wordings = {i.problem for i in demo_loaded.issues}
    assert wordings
    untranslated = [w for w in wordings if problem(w, "km") == w]
    assert untranslated == []


def test_a_chart_title_wraps_and_leaves_the_top_right_to_the_toolbar():
    question = text("exit_coverage_title", "km") + " " + text("exit_coverage_title")
    fig = charts.counts(pd.DataFrame({"site": ["Phnom Penh"], "n": [3]}), "site", {"n": "n"}, question)
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) > 1 and max(len(line) for line in lines) <= 50
    assert fig.layout.modebar.orientation == "v" and fig.layout.margin.r >= 30
