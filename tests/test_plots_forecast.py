"""coursekit.plots.forecast: what each plot draws, and its messages for bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from coursekit.plots.forecast import MAX_POINTS, error_bars, forecast_vs_actual


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _frame(n=5):
    return pd.DataFrame(
        {
            "date": pd.date_range("2025-01-01", periods=n)[::-1],
            "units": range(n),
            "naive": range(1, n + 1),
        }
    )


def test_forecast_vs_actual_sorted_by_date_with_split():
    frame = _frame()
    ax = forecast_vs_actual(frame, forecasts=["naive"], split=pd.Timestamp("2025-01-03"))
    real = ax.get_lines()[0]
    assert real.get_label() == "real"
    assert list(real.get_ydata()) == [4, 3, 2, 1, 0]  # dates were given newest first
    assert len(ax.get_lines()) == 3  # real, naive, split line


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"forecasts": []}, "ao menos uma coluna"),
        ({"forecasts": ["gbt"]}, r"\['gbt'\].*Colunas existentes"),
    ],
)
def test_forecast_vs_actual_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        forecast_vs_actual(_frame(), **kwargs)


def test_forecast_vs_actual_refuses_big_frames():
    with pytest.raises(ValueError, match="agregue por data no Spark"):
        forecast_vs_actual(_frame(MAX_POINTS + 1), forecasts=["naive"])


def test_error_bars_with_floor():
    m = pd.DataFrame({"model": ["naive", "gbt"], "mae": [3.0, 2.1]})
    ax = error_bars(m, floor=2.0)
    assert [bar.get_width() for bar in ax.patches] == [3.0, 2.1]
    assert ax.get_lines()[0].get_xdata()[0] == 2.0
    with pytest.raises(ValueError, match=r"\['rmse'\]"):
        error_bars(m, metric="rmse")
