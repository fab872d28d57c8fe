"""coursekit.plots.clustering: what each plot draws, and its messages for bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from coursekit.plots.clustering import (
    cluster_profiles,
    cluster_scatter,
    contingency_heatmap,
    elbow_silhouette,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _curves():
    return pd.DataFrame({"k": [4, 2, 3], "cost": [30.0, 90.0, 40.0], "silhouette": [0.6, 0.5, 0.7]})


def test_elbow_silhouette_sorted_by_k_with_markers():
    elbow, sil = elbow_silhouette(_curves(), chosen=3, true_k=3)
    x, y = elbow.get_lines()[0].get_data()
    assert list(x) == [2, 3, 4] and list(y) == [90.0, 40.0, 30.0]
    labels = [line.get_label() for line in sil.get_lines()]
    assert "k escolhido = 3" in labels and "k verdadeiro = 3" in labels


def test_elbow_silhouette_missing_column():
    with pytest.raises(ValueError, match=r"\['silhouette'\].*Colunas existentes"):
        elbow_silhouette(_curves().drop(columns="silhouette"))


def test_cluster_profiles_colours_are_column_zscores():
    prof = pd.DataFrame({"monetary": [100.0, 900.0, 500.0], "recency": [5.0, 5.0, 5.0]})
    ax = cluster_profiles(prof)
    mesh = ax.collections[0].get_array().reshape(3, 2)
    z = (prof["monetary"] - prof["monetary"].mean()) / prof["monetary"].std(ddof=0)
    assert np.allclose(mesh[:, 0], z)
    assert np.allclose(mesh[:, 1], 0.0)  # a constant column is not divided by zero
    assert "900" in [t.get_text() for t in ax.texts]  # annotations show the original means


def test_cluster_profiles_rejects_text_columns():
    with pytest.raises(ValueError, match=r"não numéricas \['name'\]"):
        cluster_profiles(pd.DataFrame({"name": ["a"], "x": [1.0]}))


def test_cluster_scatter_draws_every_point_and_refuses_big_frames():
    pts = pd.DataFrame({"pc1": [0.0, 1.0, 2.0], "pc2": [1.0, 0.0, 1.0], "cluster": [0, 1, 1]})
    ax = cluster_scatter(pts)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 3
    big = pd.DataFrame({"pc1": np.zeros(50_001), "pc2": 0.0, "cluster": 0})
    with pytest.raises(ValueError, match="amostre no Spark"):
        cluster_scatter(big)


def test_contingency_heatmap_annotates_counts():
    ax = contingency_heatmap(pd.DataFrame([[1500, 0], [2, 48]], index=[0, 1], columns=["a", "b"]))
    assert "1,500" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="vazia"):
        contingency_heatmap(pd.DataFrame())
