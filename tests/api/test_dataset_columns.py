"""Columns read by pandas chunk by chunk (api.datasets.columns): types merged across chunks, a column
whose chunks disagree read again as its raw text, text kept as codes into one vocabulary."""

import numpy as np
import pytest

from api.datasets import columns
from api.datasets.columns import read_columns


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(columns, "CHUNK_ROWS", 2)  # so that a 6-row file has three chunks


def read(tmp_path, text: str, delimiter=","):
    path = tmp_path / "t.csv"
    path.write_text(text)
    lines = text.splitlines()
    return read_columns(path, lines[0].split(delimiter), len(lines) - 1, delimiter)


def test_types_merge_across_chunks(tmp_path, small_chunks):
    read_back = read(tmp_path, "n,f,t,b\n1,1,x,True\n,2,,\n,,,\n,,,\n3,2.5,y,False\n4,,x,true\n")
    n, f, t, b = (read_back[name] for name in "nftb")
    assert n.is_number and n.integer  # integers with gaps stay integers
    np.testing.assert_array_equal(n.values(), [1, np.nan, np.nan, np.nan, 3, 4])
    assert f.is_number and not f.integer  # an integer chunk, then a float one
    assert not t.is_number and t.values().tolist() == ["x", None, None, None, "y", "x"]
    assert t.values()[0] is t.values()[5]  # one string object per distinct value
    assert b.values().tolist() == ["True", None, None, None, "False", "True"]


def test_a_column_whose_later_chunks_hold_text_is_read_again_as_text(tmp_path, small_chunks):
    read_back = read(tmp_path, "a,y\n1.50,p\n2,q\n3,p\n4,q\n5,p\nseven,q\n")
    assert not read_back["a"].is_number
    assert read_back["a"].values().tolist() == ["1.50", "2", "3", "4", "5", "seven"]  # raw text
    assert read_back["y"].values().tolist() == ["p", "q", "p", "q", "p", "q"]


def test_nan_spelled_out_among_numbers_is_found(tmp_path, small_chunks):
    read_back = read(tmp_path, "a,y\n1,p\n2,q\n3,p\nNaN,q\n5,p\n6,q\n")
    assert read_back["a"].first_nonfinite_text() == 3
    assert read(tmp_path, "a,y\n1,p\nx,q\n")["a"].first_nonfinite_text() is None


def test_an_empty_column_has_no_type(tmp_path, small_chunks):
    read_back = read(tmp_path, "a;y\n;p\n;q\n;p\n", delimiter=";")
    assert np.isnan(read_back["a"].values()).all()
