"""Fixtures shared by several test modules."""

import pytest
import torch

from helpers.data import load_corpus
from helpers.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def one_thread():
    """Tiny matrices: one thread is as fast, and immune to a busy machine's thread contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tok():
    """A 1,000-piece project tokenizer trained on the first 3,000 corpus documents (a few seconds)."""
    return train_tokenizer(load_corpus()["text"][:3000], vocab_size=1000)
