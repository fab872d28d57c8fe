"""coursekit.plots.tuning: what each plot draws, and its messages for bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from coursekit.plots.tuning import cost_bars, feature_scores, grid_heatmap


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _grid():
    return pd.DataFrame(
        {"numTrees": [10, 10, 20, 20], "maxDepth": [3, 5, 3, 5], "auc": [0.90, 0.93, 0.91, 0.95]}
    )


def test_grid_heatmap_outlines_the_best_cell():
    ax = grid_heatmap(_grid(), row="maxDepth", col="numTrees", value="auc")
    outline = [p for p in ax.patches if not p.get_fill()]
    assert len(outline) == 1
    # best AUC 0.95 is at maxDepth=5 (row 1), numTrees=20 (column 1)
    assert outline[0].get_xy() == (1, 1)
    assert "0.9500" in [t.get_text() for t in ax.texts]


def test_grid_heatmap_min_outlines_the_smallest():
    ax = grid_heatmap(_grid(), row="maxDepth", col="numTrees", value="auc", best="min")
    outline = [p for p in ax.patches if not p.get_fill()]
    assert outline[0].get_xy() == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"row": "depth", "col": "numTrees"}, r"\['depth'\].*Colunas existentes"),
        (
            {"row": "maxDepth", "col": "numTrees", "best": "top"},
            "'best' deve ser 'max' ou 'min'. Recebido: 'top'",
        ),
    ],
)
def test_grid_heatmap_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_heatmap(_grid(), **kwargs)


def test_cost_bars_hatches_only_estimates():
    ax = cost_bars({"CV": 30.0, "TVS": 10.0, "plano": 1000.0}, estimated={"plano"}, log=True)
    hatches = [bar.get_hatch() for bar in ax.patches]
    assert hatches == [None, None, "//"]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["CV", "TVS", "plano"]


@pytest.mark.parametrize(
    ("seconds", "estimated", "match"),
    [
        ({}, (), "está vazio"),
        ({"a": -1.0}, (), "devem ser >= 0"),
        ({"a": 1.0}, {"b"}, r"inexistentes \['b'\]"),
    ],
)
def test_cost_bars_bad_input(seconds, estimated, match):
    with pytest.raises(ValueError, match=match):
        cost_bars(seconds, estimated=estimated)


def test_feature_scores_orders_and_colours():
    scores = pd.Series({"hour": 40.0, "amount": 90.0, "day": 1.0})
    ax = feature_scores(scores, selected=["amount", "hour"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["amount", "hour", "day"]
    colours = [bar.get_facecolor() for bar in ax.patches]
    assert colours[0] == colours[1] != colours[2]


def test_feature_scores_unknown_selected():
    with pytest.raises(ValueError, match=r"inexistentes \['x'\]"):
        feature_scores(pd.Series({"a": 1.0}), selected=["x"])
