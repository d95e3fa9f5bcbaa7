"""Which language a prompt is in, by py3langid (a naive Bayes model over byte n-grams, 97 languages).

The model ships inside the py3langid wheel, so nothing is fetched at run time; loading it takes a few seconds,
so the arena warms it up in a thread at start and every call after that is well under a millisecond.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Final

UNDETERMINED: Final = "und"  # ISO 639-2 for "no language could be told"
MIN_PROBABILITY: Final = 0.5
MIN_LETTERS: Final = 3


@functools.cache
def _identifier() -> Any:
    """The py3langid model, loaded once per process: it is read-only, and loading it takes seconds."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageDetector:
    """ISO 639-1 code of a text's language; "und" for text too short or too mixed to tell."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # functools.cache may run the loader twice on a race; this stops that

    def warm(self) -> None:
        """Load the model now (it is loaded on first use otherwise)."""
        with self._lock:
            _identifier()

    def detect(self, text: str) -> str:
        if sum(c.isalpha() for c in text) < MIN_LETTERS:
            return UNDETERMINED
        self.warm()
        code, probability = _identifier().classify(text)
        return str(code) if float(probability) >= MIN_PROBABILITY else UNDETERMINED
