"""`mlpq curves -o`: the score panel of a regression is R², since its history has no accuracy."""

from PIL import Image

from mlpq.charts import plot_curves, score_metric

REGRESSION = [{"epoch": e, "loss": 1 / e, "rmse": 9 / e, "r2": 1 - 1 / e, "val_loss": 1.2 / e,
               "val_r2": 0.9 - 1 / e} for e in range(1, 6)]
CLASSIFIER = [{"epoch": e, "loss": 1 / e, "accuracy": 1 - 0.5 / e} for e in range(1, 6)]


def test_the_score_is_accuracy_or_r2():
    assert score_metric(CLASSIFIER) == "accuracy"
    assert score_metric(REGRESSION) == "r2"


def test_a_regression_history_plots(tmp_path):
    path = plot_curves(REGRESSION, tmp_path / "curves.png", "houses")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 400
