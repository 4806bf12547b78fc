"""The README uses the words the commands print for what they measure (``dromo hyperreduce``'s error)."""
import os
import re

from dromo.cli import hyperreduce

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_hyperreduce_error_is_described_in_the_readme_in_the_printed_words():
    formats = [c for c in hyperreduce.run.__code__.co_consts if isinstance(c, str) and "relative error" in c]
    assert formats, "dromo hyperreduce no longer says what its error measures"
    words = re.search(r"(relative error[^%]*?)\s*%", formats[0]).group(1).strip()
    assert "internal-force" in words and "training snapshots" in words, words
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = " ".join(f.read().split())
    assert words in readme, words
