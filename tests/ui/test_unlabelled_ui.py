"""The Data page's unlabelled texts and label budget: the counts it shows, rows without a label
taken as unlabelled texts, and a budget a class cannot meet refused in words."""

from __future__ import annotations

from tests.ui.helpers import ok, texts


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_budget_counts_and_refusal(empty_store, open_app, goto):
    at = open_app("data")
    ok(at)
    assert metric(at, "Labelled training texts") == "354" and metric(at, "Unlabelled texts") == "0"
    at.number_input(key="data:wb.labels_per_class").set_value(5).run()
    ok(at)
    assert metric(at, "Labelled training texts") == "35" and metric(at, "Unlabelled texts") == "319"
    assert "label budget (5 labelled text(s) per class" in texts(at)
    goto(at, "train").run()
    ok(at)
    (command,) = [c.value for c in at.code if c.value.startswith("threephase run")]
    assert "--labels-per-class 5" in command  # the Train page queues runs with the Data page's budget
    goto(at, "data").run()
    at.number_input(key="data:wb.labels_per_class").set_value(50).run()
    ok(at)
    errors = [e.value for e in at.error]
    assert any("labels_per_class=50 asks for 50 labelled texts per class" in e for e in errors), errors
    assert any("'cancel_subscription' has 10" in e for e in errors)


def test_rows_without_a_label_and_a_file(empty_store, open_app, tmp_path):
    rows = [f"text number {i},{'ab'[i % 2]}" for i in range(40)] + ["an unlabelled one,", "another one,"]
    at = open_app("data")
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload("part.csv", ("text,label\n" + "\n".join(rows)).encode(), "text/csv").run()
    ok(at)
    assert any("take rows without a label as unlabelled texts" in e.value for e in at.error)
    at.checkbox(key="data:wb.unlabelled_rows").check().run()
    ok(at)
    assert metric(at, "Unlabelled texts") == "2" and not at.error
    more = tmp_path / "more.txt"
    more.write_text("one more\ntwo more\nthree more\n", encoding="utf-8")
    at.text_input(key="data:wb.unlabelled").input(str(more)).run()
    ok(at)
    assert metric(at, "Unlabelled texts") == "5"
    assert at.session_state["wb.unlabelled"] == str(more)
