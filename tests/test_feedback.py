"""Tests of the structured feedback target: make_feedback, feedback_from_frame,
check_feedback, and the ``fit(X, t, y, cost=...)`` form that estimators accept."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import train_test_split

from sklearn_causal_routing import (
    FEEDBACK_FIELDS,
    GRADER_FIELDS,
    DecoupledRouter,
    DoublyRobustUtility,
    check_feedback,
    feedback_from_frame,
    make_feedback,
)

pd = pytest.importorskip("pandas")


# --------------------------------------------------------------------------- #
# make_feedback
# --------------------------------------------------------------------------- #
def test_make_feedback_fields_and_values():
    fb = make_feedback(["small", "large", "small"], [0.0, 1.0, 0.5], cost=[0.1, 2.0, 0.3],
                       propensity=[0.7, 0.3, 0.6])
    assert fb.ndim == 1 and fb.shape == (3,)
    assert fb.dtype.names == FEEDBACK_FIELDS == ("action", "quality", "cost", "propensity")
    assert fb.dtype["action"].kind == "U"
    assert_array_equal(fb["action"], ["small", "large", "small"])
    assert_array_equal(fb["quality"], [0.0, 1.0, 0.5])
    assert_array_equal(fb["cost"], [0.1, 2.0, 0.3])
    assert_array_equal(fb["propensity"], [0.7, 0.3, 0.6])
    for field in ("quality", "cost", "propensity"):
        assert fb.dtype[field] == np.float64


def test_make_feedback_defaults_cost_zero_and_propensity_unknown():
    fb = make_feedback([0, 1, 1], [1, 0, 1])
    assert_array_equal(fb["cost"], np.zeros(3))
    assert np.isnan(fb["propensity"]).all()


def test_make_feedback_scalar_cost_is_broadcast():
    fb = make_feedback(["a", "b", "a", "b"], [1.0, 0.0, 1.0, 1.0], cost=0.25)
    assert_array_equal(fb["cost"], np.full(4, 0.25))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 1, 3]),
        np.array([3.0, 1.0, 3.0]),  # integral floats are model ids
        np.array([3, 1, 3], dtype=object),
        [np.uint8(3), np.uint8(1), np.uint8(3)],
    ],
    ids=["int", "integral-float", "object-int", "uint8"],
)
def test_make_feedback_integer_labels_become_int64(labels):
    fb = make_feedback(labels, [1.0, 0.0, 1.0])
    assert fb.dtype["action"] == np.int64
    assert_array_equal(fb["action"], [3, 1, 3])


def test_make_feedback_object_string_labels_become_str():
    fb = make_feedback(np.array(["gpt-4o", "llama"], dtype=object), [1.0, 0.0])
    assert fb.dtype["action"].kind == "U"
    assert_array_equal(fb["action"], ["gpt-4o", "llama"])


def test_make_feedback_does_not_alias_inputs():
    q = np.array([1.0, 0.0, 1.0])
    fb = make_feedback([0, 1, 0], q)
    q[0] = -5.0
    assert fb["quality"][0] == 1.0


@pytest.mark.parametrize(
    "labels, error, match",
    [
        ([True, False], TypeError, "booleans"),
        ([0.5, 1.0], ValueError, "continuous"),
    ],
)
def test_make_feedback_rejects_non_label_types(labels, error, match):
    with pytest.raises(error, match=match):
        make_feedback(labels, [1.0, 0.0])


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "nan"])
def test_make_feedback_missing_label_in_object_array(missing):
    with pytest.raises(ValueError, match=r"t contains 1 missing model label\(s\) \(first at row 1\)"):
        make_feedback(np.array(["a", missing, "b"], dtype=object), [1.0, 0.0, 1.0])


def test_make_feedback_missing_label_in_float_array_is_value_error():
    with pytest.raises(ValueError, match="missing model label"):
        make_feedback(np.array([0.0, np.nan, 1.0]), [1.0, 0.0, 1.0])


def test_make_feedback_rejects_mixed_label_types():
    with pytest.raises((TypeError, ValueError), match="t"):
        make_feedback(np.array(["a", 1, "b"], dtype=object), [1.0, 0.0, 1.0])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    data=st.data(),
    n=st.integers(1, 30),
    string_labels=st.booleans(),
)
def test_make_feedback_round_trip(data, n, string_labels):
    """Every field holds exactly what was passed, and check_feedback accepts it."""
    floats = st.floats(-1e6, 1e6, allow_nan=False)
    if string_labels:
        labels = data.draw(st.lists(st.sampled_from(["a", "bb", "gpt-4o"]), min_size=n, max_size=n))
    else:
        labels = data.draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    quality = data.draw(st.lists(floats, min_size=n, max_size=n))
    cost = data.draw(st.lists(floats, min_size=n, max_size=n))
    prop = data.draw(st.lists(st.floats(1e-6, 1.0), min_size=n, max_size=n))
    fb = make_feedback(labels, quality, cost=cost, propensity=prop)
    assert check_feedback(fb) is fb
    assert fb["action"].tolist() == labels
    assert_array_equal(fb["quality"], quality)
    assert_array_equal(fb["cost"], cost)
    assert_array_equal(fb["propensity"], prop)


def test_feedback_survives_sklearn_splitting():
    """A structured 1-D target is indexed like any y by sklearn's splitters."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    fb = make_feedback(rng.choice(["a", "b"], 40), rng.normal(size=40), cost=rng.random(40),
                       propensity=np.full(40, 0.5))
    X_tr, X_te, fb_tr, fb_te = train_test_split(X, fb, test_size=0.25, random_state=0)
    for part, Xp in ((fb_tr, X_tr), (fb_te, X_te)):
        check_feedback(part)
        assert part.dtype == fb.dtype
        assert part.shape[0] == Xp.shape[0]
    # rows travel together: the row of X that held quality q still holds it
    idx = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in X_te]
    assert_array_equal(fb_te["quality"], fb["quality"][idx])


# --------------------------------------------------------------------------- #
# feedback_from_frame
# --------------------------------------------------------------------------- #
def test_feedback_from_frame_default_columns():
    df = pd.DataFrame({"model": ["a", "b", "a"], "quality": [1.0, 0.0, 0.5], "other": [9, 9, 9]})
    fb = feedback_from_frame(df)
    assert_array_equal(fb["action"], ["a", "b", "a"])
    assert_array_equal(fb["quality"], [1.0, 0.0, 0.5])
    assert_array_equal(fb["cost"], np.zeros(3))
    assert np.isnan(fb["propensity"]).all()


def test_feedback_from_frame_named_columns_equal_make_feedback():
    df = pd.DataFrame({
        "served": [2, 0, 2, 1],
        "grade": [1.0, 0.0, 1.0, 1.0],
        "usd": [0.01, 0.002, 0.01, 0.004],
        "p": [0.5, 0.25, 0.5, 0.25],
    })
    fb = feedback_from_frame(df, action="served", quality="grade", cost="usd", propensity="p")
    expected = make_feedback(df["served"], df["grade"], cost=df["usd"], propensity=df["p"])
    assert fb.dtype == expected.dtype
    for field in FEEDBACK_FIELDS:
        assert_array_equal(fb[field], expected[field])
    assert fb.dtype["action"] == np.int64


def test_feedback_from_frame_categorical_action():
    df = pd.DataFrame({"model": pd.Categorical(["x", "y", "x"]), "quality": [1.0, 0.0, 1.0]})
    assert_array_equal(feedback_from_frame(df)["action"], ["x", "y", "x"])


def test_feedback_from_frame_missing_column_names_it_and_lists_columns():
    df = pd.DataFrame({"model": ["a", "b"], "grade": [1.0, 0.0]})
    with pytest.raises(KeyError, match=r"quality='quality'.*'model', 'grade'"):
        feedback_from_frame(df)
    with pytest.raises(KeyError, match=r"cost='usd'"):
        feedback_from_frame(df, quality="grade", cost="usd")


def test_feedback_from_frame_nullable_float_nan_quality():
    df = pd.DataFrame({"model": ["a", "b", "a"],
                       "quality": pd.array([1.0, None, 0.0], dtype="Float64")})
    with pytest.raises(ValueError, match=r"y \(quality\) contains 1 NaN.*row 1"):
        feedback_from_frame(df)


def test_feedback_from_frame_pd_na_label_is_missing():
    df = pd.DataFrame({"model": pd.array(["a", pd.NA, "b"], dtype="string"),
                       "quality": [1.0, 0.0, 1.0]})
    with pytest.raises(ValueError, match="missing model label"):
        feedback_from_frame(df)


# --------------------------------------------------------------------------- #
# check_feedback
# --------------------------------------------------------------------------- #
def test_check_feedback_returns_input_unchanged():
    fb = make_feedback(["a", "b"], [1.0, 0.0], propensity=[0.5, 0.5])
    assert check_feedback(fb) is fb


@pytest.mark.parametrize("bad", [np.array([0.3, 0.5]), [0.3, 0.5], np.array(["a", "b"])])
def test_check_feedback_plain_array_names_argument_and_factory(bad):
    with pytest.raises(TypeError, match=r"y_train must be the logged feedback.*make_feedback\(t, y"):
        check_feedback(bad, name="y_train")


def test_check_feedback_missing_fields_named():
    arr = np.zeros(3, dtype=[("action", "<U3"), ("quality", float)])
    with pytest.raises(TypeError, match=r"lacks the field\(s\) \['cost', 'propensity'\]"):
        check_feedback(arr)


def test_check_feedback_2d_and_empty():
    fb = make_feedback(["a", "b"], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"y must be 1-D; got shape \(2, 1\)"):
        check_feedback(fb.reshape(2, 1))
    with pytest.raises(ValueError, match="y is empty"):
        check_feedback(fb[:0])


@pytest.mark.parametrize("field", ["quality", "cost"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_check_feedback_non_finite_outcome_in_hand_built_array(field, value):
    fb = make_feedback(["a", "b", "a"], [1.0, 0.0, 1.0], cost=[1.0, 1.0, 1.0])
    fb[field][1] = value
    with pytest.raises(ValueError, match=rf"y\['{field}'\] contains 1 NaN or infinite"):
        check_feedback(fb)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_check_feedback_revalidates_propensity(bad):
    fb = make_feedback(["a", "b", "a"], [1.0, 0.0, 1.0], propensity=[0.5, 0.5, 0.5])
    fb["propensity"][2] = bad
    with pytest.raises(ValueError, match=r"propensity must lie in \(0, 1\].*at row 2"):
        check_feedback(fb)


# --------------------------------------------------------------------------- #
# the fit(X, t, y, cost=..., propensity=...) form
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small_logs():
    rng = np.random.default_rng(3)
    n = 120
    X = rng.normal(size=(n, 3))
    t = rng.choice(["a", "b", "c"], size=n)
    q = X[:, 0] + (t == "b") + 0.1 * rng.normal(size=n)
    c = np.where(t == "c", 1.0, 0.1) * (1 + 0.1 * X[:, 1])
    p = np.full(n, 1 / 3)
    return X, t, q, c, p


def test_separate_form_equals_feedback_form_for_utility(small_logs):
    X, t, q, c, p = small_logs
    kw = dict(quality_model=Ridge(), cost_model=Ridge(), random_state=0, clip=None)
    a = DoublyRobustUtility(**kw).fit(X, make_feedback(t, q, cost=c, propensity=p))
    b = DoublyRobustUtility(**kw).fit(X, t, q, cost=c, propensity=p)
    assert_array_equal(a.classes_, b.classes_)
    assert_allclose(a.quality_, b.quality_)
    assert_allclose(a.cost_, b.cost_)
    assert a.logged_propensity_ and b.logged_propensity_
    assert_allclose(b.propensity_, p)


def test_separate_form_positional_and_keyword_quality(small_logs):
    X, t, q, c, _ = small_logs
    a = DecoupledRouter(LinearRegression(), LinearRegression(), cost_weight=0.5).fit(X, t, q, cost=c)
    b = DecoupledRouter(LinearRegression(), LinearRegression(), cost_weight=0.5).fit(
        X, t, quality=q, cost=c)
    c_ = DecoupledRouter(LinearRegression(), LinearRegression(), cost_weight=0.5).fit(
        X, make_feedback(t, q, cost=c))
    assert_allclose(a.predict_utility(X), b.predict_utility(X))
    assert_allclose(a.predict_utility(X), c_.predict_utility(X))


def test_separate_form_score(small_logs):
    X, t, q, c, p = small_logs
    router = DecoupledRouter(LinearRegression(), LinearRegression()).fit(X, t, q, cost=c)
    assert router.score(X, t, q, cost=c, propensity=p) == pytest.approx(
        router.score(X, make_feedback(t, q, cost=c, propensity=p)))


def test_feedback_plus_separate_quality_is_rejected(small_logs):
    X, t, q, c, _ = small_logs
    fb = make_feedback(t, q, cost=c)
    with pytest.raises(TypeError, match=r"feedback array and a separate quality.*fit\(X, feedback\)"):
        DoublyRobustUtility().fit(X, fb, q)


@pytest.mark.parametrize("kwarg", ["cost", "propensity"])
def test_feedback_plus_cost_or_propensity_kwarg_is_rejected(small_logs, kwarg):
    X, t, q, c, p = small_logs
    fb = make_feedback(t, q, cost=c)
    with pytest.raises(TypeError, match=r"cost= and propensity= go with the separate form"):
        DecoupledRouter().fit(X, fb, **{kwarg: c if kwarg == "cost" else p})
    router = DecoupledRouter().fit(X, fb)
    with pytest.raises(TypeError, match=r"score: cost= and propensity="):
        router.score(X, fb, **{kwarg: c if kwarg == "cost" else p})


# --- who graded each row: gold and judge grades -------------------------------------


def test_gold_and_judge_fields_are_stored_only_when_given():
    plain = make_feedback(["a", "b"], [1.0, 0.0])
    assert plain.dtype.names == FEEDBACK_FIELDS
    fb = make_feedback(["a", "b", "a"], [1.0, 0.0, 0.5], gold=[True, False, True],
                       judge=[0.7, np.nan, np.nan])
    assert fb.dtype.names == FEEDBACK_FIELDS + GRADER_FIELDS
    np.testing.assert_array_equal(fb["gold"], [True, False, True])
    # a judge-graded row's judge grade is its y; gold rows keep the extra judge grade
    np.testing.assert_array_equal(fb["judge"], [0.7, 0.0, np.nan])
    assert check_feedback(fb) is fb
    assert fb[[0, 2]].dtype.names == fb.dtype.names


def test_judge_without_gold_means_all_rows_gold():
    fb = make_feedback(["a", "b"], [1.0, 0.0], judge=[0.9, None])
    assert fb["gold"].all()
    np.testing.assert_array_equal(fb["judge"], [0.9, np.nan])


def test_gold_accepts_zero_one_integers():
    fb = make_feedback(["a", "b"], [1.0, 0.0], gold=[1, 0])
    np.testing.assert_array_equal(fb["gold"], [True, False])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gold": ["yes", "no", "yes"]}, "gold must be one bool per row"),
        ({"gold": [1, 2, 0]}, "gold must be one bool per row"),
        ({"gold": [True, False]}, "gold has 2 entries but t has 3"),
        ({"gold": [True, False, True], "judge": [0.0, 0.2, 0.0]}, "judge disagrees with y"),
        ({"judge": [0.0, np.inf, 0.0]}, "judge contains infinite"),
    ],
)
def test_bad_grader_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_feedback(["a", "b", "a"], [1.0, 0.0, 0.5], **kwargs)


def test_feedback_from_frame_reads_grader_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"model": ["a", "b"], "quality": [1.0, 0.4],
                       "is_gold": [True, False], "judge": [0.8, None]})
    fb = feedback_from_frame(df, gold="is_gold", judge="judge")
    np.testing.assert_array_equal(fb["judge"], [0.8, 0.4])


def test_check_feedback_rejects_a_judge_row_without_its_grade():
    fb = make_feedback(["a", "b"], [1.0, 0.0], gold=[True, False])
    fb["judge"][1] = np.nan
    with pytest.raises(ValueError, match="judge-graded rows"):
        check_feedback(fb)
