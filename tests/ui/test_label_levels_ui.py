"""Labels with levels in the workbench: giving the levels on the Data page, its class tree, and
the Embeddings page's colours by level."""

from __future__ import annotations

import json

from tests.ui.helpers import figures, ok, texts


def tree_lines(at) -> list[str]:
    """The class tree's lines as the Data page writes them (one class per line, indented by level)."""
    tree = next((m.value for m in at.markdown if m.value.startswith("- **")), "")
    return [line for line in tree.splitlines() if line.strip().startswith("- ")]


def test_demo_class_tree_with_counts(empty_store, open_app):
    at = open_app("data")
    assert not tree_lines(at)  # the demo's default: one level, no tree
    at.toggle(key="data:demo_levels").set_value(True).run()
    ok(at)
    assert at.session_state["wb.dataset"]["label_column"] == "group,label"
    lines = tree_lines(at)
    # Each group with its train · validation · test rows, its intents indented under it.
    assert lines[:3] == [
        "- **orders** 202 · 44 · 44",
        "    - **order_status** 118 · 26 · 26",
        "    - **returns_refunds** 84 · 18 · 18",
    ]
    assert len([line for line in lines if line.startswith("- ")]) == 4 and len(lines) == 11
    assert "**Class tree** · group › label" in texts(at)
    treemap = next(f for f in figures(at) if f["data"][0]["type"] == "treemap")["data"][0]
    assert treemap["parents"][:3] == ["", "orders", "orders"] and treemap["values"][0] == 202
    at.toggle(key="data:demo_levels").set_value(False).run()
    assert at.session_state["wb.dataset"]["label_column"] == "label" and not tree_lines(at)


def _upload(at, name: str, rows: list[dict]):
    header = list(rows[0])
    csv = ",".join(header) + "\n" + "\n".join(",".join(str(r[h]) for h in header) for r in rows)
    at.segmented_control(key="data:wb.source").set_value("upload").run()
    at.file_uploader[0].upload(name, csv.encode(), "text/csv").run()
    ok(at)
    key = next(r.key for r in at.radio if r.label == "Label levels")
    return key.split(":")[-1]


def test_levels_from_a_separator_and_a_bad_one(empty_store, open_app):
    labels = ["HUM:ind", "HUM:gr", "LOC:city"]
    rows = [{"text": f"question number {i}", "label": labels[i % 3]} for i in range(60)]
    at = open_app("data")
    key = _upload(at, "questions.csv", rows)
    at.radio(key=f"data:levels:{key}").set_value("separator").run()
    ok(at)
    assert at.session_state["wb.dataset"]["label_sep"] == ":"
    assert tree_lines(at)[:3] == [
        "- **HUM** 32 · 4 · 4",
        "    - **HUM:gr** 16 · 2 · 2",
        "    - **HUM:ind** 16 · 2 · 2",
    ]
    at.text_input(key=f"data:sep:{key}").input("/").run()
    ok(at)
    assert any("the separator '/' occurs in none of the labels" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert at.session_state["wb.dataset"]["label_sep"] == ":"  # the working choice is kept


def test_levels_from_several_columns(empty_store, open_app):
    rows = [
        {"text": f"question number {i}", "coarse": "AB"[i % 2], "fine": f"{'AB'[i % 2]}{i % 4}"} for i in range(60)
    ]
    at = open_app("data")
    key = _upload(at, "two.csv", rows)
    next(s for s in at.selectbox if s.label == "Label column").set_value("coarse").run()
    at.radio(key=f"data:levels:{key}").set_value("columns").run()
    at.multiselect(key=f"data:finer:{key}").set_value(["fine"]).run()
    ok(at)
    assert at.session_state["wb.dataset"]["label_column"] == "coarse,fine"
    assert [line.strip().split(" ")[1] for line in tree_lines(at)] == [
        "**A**",
        "**A0**",
        "**A2**",
        "**B**",
        "**B1**",
        "**B3**",
    ]


def test_embeddings_colour_by_either_level(empty_store, open_app, goto):
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    cfg = build_config("ft", {"model": "tiny", "max_steps": 2, "label_column": "group,label", "embed_rows": 40})
    run, result = run_recipe(cfg, empty_store)
    assert result["state"] == "done", result
    assert json.loads((run.path / "data.json").read_text())["levels"]["level_names"] == ["group", "label"]
    at = open_app("embeddings")
    at.segmented_control(key="emb:emb.method").set_value("pca").run()
    ok(at)
    level = at.selectbox(key="emb:level")
    assert level.options == ["1 · group", "2 · label"] and level.value == 2

    def legend() -> str:
        return next(m.value for m in at.markdown if "border-radius:50%" in m.value)

    assert "order_status" in legend() and "tech_support" not in legend()
    level.set_value(1).run()
    ok(at)
    assert "tech_support" in legend() and "order_status" not in legend()
    colours = {c for f in figures(at) for t in f["data"] for c in [t.get("marker", {}).get("color")] if c}
    assert 1 < len({c for c in colours if isinstance(c, str)}) <= 4  # one colour per group


def test_train_offers_the_level_ft_predicts_for_data_with_levels(empty_store, open_app, goto):
    from threephase_core.config import spec

    def level():
        return at.number_input(key="train:wb.t.three_phase.ft.level")

    def command() -> str:
        return next(c.value for c in at.code if c.value.startswith("threephase run"))

    at = open_app("train")
    assert level().label == spec("ft.level").label
    assert level().disabled and (level().min, level().max) == (0, 0) and "have one level" in level().help
    goto(at, "data").run()
    at.toggle(key="data:demo_levels").set_value(True).run()
    goto(at, "train").run()
    ok(at)
    assert not level().disabled and (level().min, level().max) == (0, 2) and level().value == 0
    assert "0 = the finest level (label); 1 = group, 2 = label" in level().help
    assert "ft.level" not in command()
    level().set_value(1).run()
    ok(at)
    assert "ft.level=1" in command()
    # Back to labels of one level: the level returns to the finest, which those labels have.
    goto(at, "data").run()
    at.toggle(key="data:demo_levels").set_value(False).run()
    goto(at, "train").run()
    ok(at)
    assert level().disabled and level().value == 0 and "ft.level" not in command()


def test_results_show_the_scores_at_every_level(empty_store, open_app):
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    settings = {"model": "tiny", "max_steps": 2, "label_column": "group,label", "embed_rows": 40}
    fine, fine_metrics = run_recipe(build_config("ft", settings), empty_store)
    coarse, coarse_metrics = run_recipe(build_config("ft", {**settings, "ft.level": 1, "seed": 1}), empty_store)
    assert fine_metrics["state"] == coarse_metrics["state"] == "done", (fine_metrics, coarse_metrics)
    at = open_app("results")

    def show(run) -> tuple:
        at.selectbox(key="res:wb.run").set_value(run.id).run()
        ok(at)
        table = next((d.value for d in at.dataframe if "level" in d.value.columns), None)
        return table, texts(at)

    table, shown = show(fine)
    levels = json.loads((fine.path / "metrics.json").read_text())["levels"]
    assert table["level"].tolist() == ["1 · group", "2 · label"] and table["classes"].tolist() == [4, 7]
    for row, name in zip(table.to_dict("records"), ("group", "label")):
        for split in ("validation", "test"):
            assert row[f"{split} accuracy"] == levels[name][split]["accuracy"]
            assert row[f"{split} macro-F1"] == levels[name][split]["f1_macro"]
    metrics = json.loads((fine.path / "metrics.json").read_text())
    assert table["test accuracy"].iloc[1] == metrics["test"]["accuracy"]  # the finest level is FT's own score
    # A right intent is right at its group too, so the coarse level scores at least as well.
    assert table["test accuracy"].iloc[0] >= table["test accuracy"].iloc[1]
    assert "FT predicts **label**" in shown
    table, shown = show(coarse)  # FT predicted the groups: one level to score
    assert table["level"].tolist() == ["1 · group"] and "FT predicts **group**" in shown


def test_imbalance_page_counts_pairs_by_level(empty_store, open_app, goto):
    at = open_app("imbalance")
    assert not any("Pairs scored by the label levels" in c.value for c in at.caption)  # one level
    goto(at, "data").run()
    at.toggle(key="data:demo_levels").set_value(True).run()
    goto(at, "imbalance").run()
    ok(at)
    note = next(c.value for c in at.caption if c.value.startswith("Pairs scored by the label levels"))
    assert "(group › label)" in note and "**0.5** (same group, another label)" in note
    counts = [
        int(part.rsplit(" ", 1)[-1].rstrip(".").replace(",", "")) for part in note.split(": ", 1)[1].split(" · ")
    ]
    metric = {m.label: int(m.value.replace(",", "")) for m in at.metric if m.label.endswith("pairs")}
    assert len(counts) == 3 and sum(counts) == metric["Training pairs"] and counts[0] == metric["Same-class pairs"]
