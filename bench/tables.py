"""The built-in tables: mlpq against scikit-learn's MLPClassifier/MLPRegressor, in one run.

Each library trains the same network (one hidden layer of 32 relu units, Adam at 1e-3, batch
32, no weight decay, no early stopping) for the same epochs on the same split and the same
standardised inputs (`engine.datasets.load`), and the script prints the test accuracy (R² in the
target's units for diabetes), the seconds per epoch and their ratio. Regression targets are
standardised for both, as mlpq trains them, and scored after scaling back.

    python bench/tables.py [--epochs 200] [--repeats 3]
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # run from the repository root, not bench/

import engine  # noqa: E402
from engine.datasets import DATASETS, preprocessing_for  # noqa: E402
from engine.tasks import TargetScale  # noqa: E402

TABLES = ("iris", "wine", "breast-cancer", "diabetes")
HIDDEN, BATCH, RATE = 32, 32, 1e-3


def engine_run(name, epochs, seed):
    """(test score, seconds per epoch) for mlpq."""
    (X, y), (X_test, y_test) = engine.datasets.load(name)
    info = DATASETS[name]
    regression = info.task == "regression"
    output = ({"units": 1, "activation": "identity"} if regression
              else {"units": info.num_classes, "activation": "softmax"})
    spec = {"layers": [{"units": HIDDEN, "activation": "relu"}, output],
            "task": info.task, "loss": "mse" if regression else "cross_entropy"}
    net = engine.Network.from_spec(spec, input_size=info.input_size, seed=seed)
    if regression:
        net.target_scale = TargetScale.of_preprocessing(preprocessing_for(name).to_dict())
    started = time.process_time()
    net.fit(X, y, epochs=epochs, batch_size=BATCH, seed=seed, diagnostics=False,
            optimizer={"name": "adam", "learning_rate": RATE})
    seconds = (time.process_time() - started) / epochs
    result = net.evaluate(X_test, y_test)
    return result["r2" if regression else "accuracy"], seconds


def sklearn_run(name, epochs, seed):
    """(test score, seconds per epoch) for scikit-learn, on the same arrays."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    (X, y), (X_test, y_test) = engine.datasets.load(name)
    regression = DATASETS[name].task == "regression"
    model = (MLPRegressor if regression else MLPClassifier)(
        hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam", learning_rate_init=RATE,
        batch_size=BATCH, alpha=0.0, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
        shuffle=True, random_state=seed)
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # it ran the epochs we asked for
        model.fit(X, y)
    seconds = (time.process_time() - started) / epochs
    if not regression:
        return float((model.predict(X_test) == y_test).mean()), seconds
    scale = preprocessing_for(name).target
    unscale = lambda z: np.asarray(z, dtype=np.float64) * scale.std + scale.mean  # noqa: E731
    return float(r2_score(unscale(y_test), unscale(model.predict(X_test)))), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="seeds per library and table")
    args = parser.parse_args()
    print(f"{'table':14} {'metric':9} {'mlpq':>7} {'sklearn':>8}   {'s/epoch mlpq':>12} "
          f"{'sklearn':>8} {'sklearn/mlpq':>12}")
    for name in TABLES:
        runs = {library: [run(name, args.epochs, seed) for seed in range(args.repeats)]
                for library, run in (("mlpq", engine_run), ("sklearn", sklearn_run))}
        score = {lib: statistics.mean(r[0] for r in rs) for lib, rs in runs.items()}
        speed = {lib: statistics.median(r[1] for r in rs) for lib, rs in runs.items()}
        metric = "r2" if DATASETS[name].task == "regression" else "accuracy"
        print(f"{name:14} {metric:9} {score['mlpq']:7.4f} {score['sklearn']:8.4f}   "
              f"{speed['mlpq'] * 1e3:10.2f}ms {speed['sklearn'] * 1e3:6.2f}ms "
              f"{speed['sklearn'] / speed['mlpq']:11.2f}x")
    print(f"({args.epochs} epochs, mean score and median CPU seconds per epoch over "
          f"{args.repeats} seeds; same split, same standardised inputs)")


if __name__ == "__main__":
    main()
