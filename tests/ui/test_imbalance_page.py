"""The Imbalance page's controls: sliders that apply together on Apply (a half-moved slider never
changes the charts), presets that apply at once and read in full, the note where a corrected class
outgrows the largest one, and the explicit hand-over to the Train page."""

from __future__ import annotations

import pytest

from threephase_core.workbench.previews import class_table, outgrow_note

DEMO = {
    "order_status": 118,
    "returns_refunds": 84,
    "billing_payment": 59,
    "account_access": 37,
    "product_question": 28,
    "technical_issue": 18,
    "cancel_subscription": 10,
}


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def pairs(at) -> str:
    return next(m.value for m in at.metric if m.label == "Training pairs")


def test_a_moved_slider_changes_nothing_until_apply(empty_store, open_app):
    at = open_app("imbalance")
    ok(at)
    before = pairs(at)
    at.slider(key="imb:max_ratio").set_value(10.0)
    at.button(key="imb:shuffle").click().run()  # another rerun, without Apply
    ok(at)
    assert pairs(at) == before and at.slider(key="imb:max_ratio").value == 4.0  # the applied value is shown
    at.slider(key="imb:max_ratio").set_value(10.0)
    at.button(key="imb:apply").click().run()
    ok(at)
    assert pairs(at) != before and at.pills(key="imb:preset").value == "custom"
    assert at.session_state["wb.max_ratio"] == 4.0  # the Train page's value is untouched


def test_presets_read_in_full_and_apply_at_once(empty_store, open_app):
    at = open_app("imbalance")
    preset = at.pills(key="imb:preset")
    assert preset.options == [  # the labels shown, each with its ratios
        "normal (1.5, 4)",
        "extra (1.5, 20)",
        "none (1, 1)",
        "custom",
    ]
    preset.set_value("none").run()
    ok(at)
    assert (at.slider(key="imb:min_ratio").value, at.slider(key="imb:max_ratio").value) == (1.0, 1.0)
    at.pills(key="imb:preset").set_value(None).run()  # clearing the pills keeps the preset
    ok(at)
    assert at.pills(key="imb:preset").value == "none"


def test_train_defaults_change_only_when_chosen(empty_store, open_app, goto):
    at = open_app("imbalance")
    assert "The Train page uses these values" in "\n".join(c.value for c in at.caption)
    at.pills(key="imb:preset").set_value("extra").run()
    ok(at)
    assert "The Train page still uses its own values for: Preset, " in "\n".join(c.value for c in at.caption)
    assert (at.session_state["wb.preset"], at.session_state["wb.max_ratio"]) == ("normal", 4.0)
    at.button(key="imb:use").click().run()
    ok(at)
    assert (at.session_state["wb.preset"], at.session_state["wb.max_ratio"]) == ("extra", 20.0)
    assert not [b for b in at.button if b.key == "imb:use"]


def test_the_page_notes_classes_that_outgrow_the_largest(empty_store, open_app):
    at = open_app("imbalance")
    assert not any("larger than the largest class" in i.value for i in at.info)  # normal (1.5, 4)
    at.slider(key="imb:max_ratio").set_value(19.5)
    at.button(key="imb:apply").click().run()
    ok(at)
    note = next(i.value for i in at.info if "larger than the largest class" in i.value)
    assert note.startswith("At max ratio 19.5 the correction makes 4 classes larger than the largest class, order_")


@pytest.mark.parametrize(
    ("r_max", "outgrown"),
    [(4.0, []), (20.0, ["account_access", "billing_payment", "product_question", "technical_issue"])],
)
def test_outgrow_note_names_the_classes_past_the_largest(r_max, outgrown):
    table = class_table(DEMO, 1.5, r_max)
    note = outgrow_note(table, r_max)
    largest = DEMO["order_status"]
    expected = sorted(table.loc[(table["rows"] < largest) & (table["rows_after"] > largest), "class"])
    assert expected == outgrown
    if not outgrown:
        assert note is None
    else:
        assert all(name in note for name in outgrown) and "order_status (118 rows)" in note
        assert "cancel_subscription" not in note  # repeated, but still below the largest class
