"""Baselines every fine-tuned model must beat: the majority class and TF-IDF + logistic regression.

Both are scikit-learn pipelines that take raw strings, so they fit with one line on any split
(``pipe.fit(texts, labels)``) and score with ``pipe.score(texts, labels)``.
"""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def majority_baseline() -> DummyClassifier:
    """Always predicts the most frequent training label (the floor any model must clear)."""
    return DummyClassifier(strategy="most_frequent")


def tfidf_lr(ngram_range: tuple[int, int] = (1, 1), min_df: int = 1, C: float = 4.0,
             max_iter: int = 2000, seed: int = 0, analyzer: str = "word") -> Pipeline:
    """TF-IDF over words, then logistic regression: the classic strong baseline.

    ``sublinear_tf`` (1 + log tf) keeps a repeated word from dominating a short snippet; a
    ``C`` above the default 1.0 (weaker regularisation) suits the many sparse word features.
    The vectorizer's vocabulary and idf and the classifier are fitted on the training texts only.
    The settings (single words, ``C = 4``) had the best validation accuracy of a small grid
    (words or words + bigrams, ``C`` from 0.5 to 16: ``benchmarks/choose_recipe.py``); the test
    split is only scored. ``analyzer="char"`` counts character n-grams instead of words: the
    baseline for Chinese, which has no spaces between words (notebook 06).
    """
    return Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=ngram_range, min_df=min_df, sublinear_tf=True,
                                  lowercase=True, strip_accents="unicode", analyzer=analyzer)),
        ("lr", LogisticRegression(C=C, max_iter=max_iter, random_state=seed)),
    ])
