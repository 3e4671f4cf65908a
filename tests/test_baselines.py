"""helpers.baselines: the majority class and the TF-IDF + logistic-regression pipeline."""

from helpers import baselines

TEXTS = ["a great fun movie", "great acting", "fun and moving", "a bad boring film",
         "awful plot", "boring and bad", "great fun", "bad film"]
LABELS = [1, 1, 1, 0, 0, 0, 1, 0]


def test_majority_predicts_the_most_frequent_training_label():
    model = baselines.majority_baseline().fit(TEXTS, [1, 1, 1, 0, 0, 1, 1, 0])
    assert list(model.predict(["anything", "at all"])) == [1, 1]
    assert model.score(TEXTS, LABELS) == 0.5


def test_tfidf_lr_is_a_text_pipeline_that_learns_word_cues():
    pipe = baselines.tfidf_lr()
    assert [name for name, _ in pipe.steps] == ["tfidf", "lr"]
    pipe.fit(TEXTS, LABELS)
    assert pipe.score(TEXTS, LABELS) == 1.0
    assert list(pipe.predict(["a great film", "a boring film"])) == [1, 0]
    features = pipe.named_steps["tfidf"].get_feature_names_out()
    assert "great" in features and not any(" " in f for f in features)  # single words by default
    with_bigrams = baselines.tfidf_lr(ngram_range=(1, 2)).fit(TEXTS, LABELS)
    assert "great fun" in with_bigrams.named_steps["tfidf"].get_feature_names_out()


def test_tfidf_lr_is_deterministic():
    first = baselines.tfidf_lr().fit(TEXTS, LABELS).predict_proba(["fun but awful"])
    second = baselines.tfidf_lr().fit(TEXTS, LABELS).predict_proba(["fun but awful"])
    assert (first == second).all()


def test_character_ngrams_for_text_without_spaces():
    texts, labels = ["质量很好", "很好很满意", "质量太差", "太差了不满意"], [1, 1, 0, 0]
    pipe = baselines.tfidf_lr(ngram_range=(1, 2), analyzer="char").fit(texts, labels)
    features = set(pipe.named_steps["tfidf"].get_feature_names_out())
    assert {"好", "很好", "太差"} <= features and "质量很好" not in features
    assert list(pipe.predict(["很好", "太差"])) == [1, 0]
    words = baselines.tfidf_lr().fit(texts, labels)  # the word analyzer sees each unspaced text as one word
    assert len(words.named_steps["tfidf"].get_feature_names_out()) == len(texts)
