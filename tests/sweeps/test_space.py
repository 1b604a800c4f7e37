"""The search space on its own: paths, grids, duplicates, random draws within bounds and on a log scale."""

import math
import statistics

import pytest

from api.sweeps.space import SpaceError, apply, expand, lookup, parse_path


def test_paths_parse_into_names_and_indexes():
    assert parse_path("model.layers[0].units") == ["model", "layers", 0, "units"]
    assert parse_path("training.optimizer.learning_rate") == ["training", "optimizer",
                                                              "learning_rate"]
    for bad in ["", "model..units", "model.layers[x]", "model.layers[-1]", "1model"]:
        with pytest.raises(SpaceError):
            parse_path(bad)


def test_lookup_finds_values_and_misses_absent_ones():
    body = {"model": {"layers": [{"units": 3}]}}
    assert lookup(body, ["model", "layers", 0, "units"]) == (True, 3)
    assert lookup(body, ["model", "layers", 1, "units"]) == (False, None)
    assert lookup(body, ["model", "loss"]) == (False, None)


def test_apply_sets_values_in_a_copy_and_creates_missing_objects():
    base = {"model": {"layers": [{"units": 3}, {"units": 1}]}, "training": {"epochs": 5}}
    child = apply(base, {"model.layers[0].units": 8, "training.optimizer.learning_rate": 0.1})
    assert child["model"]["layers"][0]["units"] == 8
    assert child["training"] == {"epochs": 5, "optimizer": {"learning_rate": 0.1}}
    assert base["model"]["layers"][0]["units"] == 3 and "optimizer" not in base["training"]


def test_a_grid_is_the_product_in_order_and_duplicates_run_once():
    configs = expand({"a": {"values": [0.1, 0.1, 0.01]}, "b": {"values": [64, 128]}},
                     {"a": float, "b": int}, method="grid", max_configs=100)
    assert configs == [{"a": 0.1, "b": 64}, {"a": 0.1, "b": 128},
                       {"a": 0.01, "b": 64}, {"a": 0.01, "b": 128}]


def test_a_grid_range_has_count_points_on_a_log_scale():
    configs = expand({"lr": {"min": 1e-4, "max": 1e-1, "count": 4, "log": True}},
                     {"lr": float}, method="grid", max_configs=100)
    assert [config["lr"] for config in configs] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    with pytest.raises(SpaceError, match="count"):
        expand({"lr": {"min": 0.1, "max": 1.0}}, {"lr": float}, method="grid", max_configs=9)


def test_random_search_respects_bounds_types_and_the_log_scale():
    parameters = {"lr": {"min": 1e-4, "max": 1e-1, "log": True},
                  "units": {"min": 16, "max": 256}, "act": {"values": ["relu", "tanh"]}}
    configs = expand(parameters, {"lr": float, "units": int, "act": float}, method="random",
                     max_configs=400, seed=1)
    assert len(configs) == 400
    lrs = [config["lr"] for config in configs]
    assert all(1e-4 <= lr <= 1e-1 for lr in lrs)
    assert all(isinstance(c["units"], int) and 16 <= c["units"] <= 256 for c in configs)
    assert {config["act"] for config in configs} == {"relu", "tanh"}
    # Log-uniform: log10(lr) is uniform on [-4, -1], so each decade holds about a third and
    # the median is near 10^-2.5; a uniform draw would put ~90% in the top decade.
    decades = [sum(lo <= math.log10(lr) < lo + 1 for lr in lrs) for lo in (-4, -3, -2)]
    assert all(80 <= count <= 187 for count in decades), decades
    assert -2.8 < statistics.median(math.log10(lr) for lr in lrs) < -2.2


def test_random_search_is_reproducible_and_stops_at_the_distinct_points_there_are():
    parameters = {"act": {"values": ["relu", "tanh"]}, "units": {"values": [8, 16]}}
    configs = expand(parameters, {"act": float, "units": int}, method="random",
                     max_configs=10, seed=0)
    assert len(configs) == 4  # only four distinct configurations exist
    again = expand(parameters, {"act": float, "units": int}, method="random",
                   max_configs=10, seed=0)
    assert configs == again
