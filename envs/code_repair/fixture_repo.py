"""`minilib`: a tiny pure-Python project with a pytest suite, bundled so that code_repair works offline.

It is written to the cache on first use and serves the env's `sample_tasks`, the checker and the synthesis tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from agentgym.diskcache import cache_root

NUMBERS = '''"""Small numeric helpers."""


def clamp(x, lo, hi):
    """x limited to the closed interval [lo, hi]."""
    if lo > hi:
        raise ValueError("lo must not exceed hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def mean(xs):
    """Arithmetic mean of a non-empty sequence."""
    if not xs:
        raise ValueError("mean of an empty sequence")
    return sum(xs) / len(xs)


def median(xs):
    """Middle value (mean of the two middle values for an even count)."""
    ordered = sorted(xs)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of an empty sequence")
    mid = n // 2
    if n % 2 == 1:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def is_prime(n):
    """True for the primes 2, 3, 5, 7, ..."""
    if n < 2:
        return False
    k = 2
    while k * k <= n:
        if n % k == 0:
            return False
        k += 1
    return True
'''

TEXT = '''"""Small string helpers."""


def slugify(text, sep="-"):
    """Lower-case words of letters and digits joined by `sep`."""
    words = []
    current = ""
    for ch in text.lower():
        if ch.isalnum():
            current += ch
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return sep.join(words)


def word_count(text):
    """Number of whitespace-separated words."""
    return len(text.split())


def truncate(text, width, suffix="..."):
    """`text` cut to at most `width` characters, ending in `suffix` when cut."""
    if width < len(suffix):
        raise ValueError("width is smaller than the suffix")
    if len(text) <= width:
        return text
    return text[: width - len(suffix)] + suffix
'''

SEQS = '''"""Small sequence helpers."""


def chunk(xs, size):
    """Consecutive pieces of `size` items (the last may be shorter)."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [xs[i : i + size] for i in range(0, len(xs), size)]


def flatten(xss):
    """One list of the items of each inner sequence, in order."""
    out = []
    for xs in xss:
        out.extend(xs)
    return out


def dedupe(xs):
    """Items in first-seen order without repeats."""
    seen = set()
    out = []
    for x in xs:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def window(xs, n):
    """Every run of `n` consecutive items, as tuples."""
    if n <= 0:
        raise ValueError("n must be positive")
    return [tuple(xs[i : i + n]) for i in range(len(xs) - n + 1)]
'''

TEST_NUMBERS = '''import pytest

from minilib.numbers import clamp, is_prime, mean, median


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_clamp_below():
    assert clamp(-3, 0, 10) == 0


def test_clamp_above():
    assert clamp(12, 0, 10) == 10


def test_clamp_bad_interval():
    with pytest.raises(ValueError):
        clamp(1, 5, 0)


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_empty():
    with pytest.raises(ValueError):
        mean([])


def test_median_odd():
    assert median([5, 1, 3]) == 3


def test_median_even():
    assert median([4, 1, 3, 2]) == 2.5


@pytest.mark.parametrize("n", [2, 3, 5, 7, 11, 13, 97])
def test_is_prime_true(n):
    assert is_prime(n)


@pytest.mark.parametrize("n", [0, 1, 4, 9, 15, 49, 100])
def test_is_prime_false(n):
    assert not is_prime(n)
'''

TEST_TEXT = '''import pytest

from minilib.text import slugify, truncate, word_count


def test_slugify_basic():
    assert slugify("Hello, World!") == "hello-world"


def test_slugify_sep():
    assert slugify("a b  c", sep="_") == "a_b_c"


def test_slugify_digits():
    assert slugify("Python 3.11 rocks") == "python-3-11-rocks"


def test_word_count():
    assert word_count("  one two\\tthree\\n") == 3


def test_truncate_short():
    assert truncate("abc", 5) == "abc"


def test_truncate_exact():
    assert truncate("abcde", 5) == "abcde"


def test_truncate_long():
    assert truncate("abcdefgh", 6) == "abc..."


def test_truncate_bad_width():
    with pytest.raises(ValueError):
        truncate("abc", 2)
'''

TEST_SEQS = '''import pytest

from minilib.seqs import chunk, dedupe, flatten, window


def test_chunk():
    assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_chunk_bad_size():
    with pytest.raises(ValueError):
        chunk([1], 0)


def test_flatten():
    assert flatten([[1], [], [2, 3]]) == [1, 2, 3]


def test_dedupe():
    assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_window():
    assert window([1, 2, 3, 4], 3) == [(1, 2, 3), (2, 3, 4)]


def test_window_too_long():
    assert window([1, 2], 3) == []
'''

FILES: dict[str, str] = {
    "pyproject.toml": '[project]\nname = "minilib"\nversion = "1.0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
    "README.md": "# minilib\n\nSmall numeric, text and sequence helpers.\n",
    "minilib/__init__.py": '"""minilib: small helpers."""\n',
    "minilib/numbers.py": NUMBERS,
    "minilib/text.py": TEXT,
    "minilib/seqs.py": SEQS,
    "tests/test_numbers.py": TEST_NUMBERS,
    "tests/test_text.py": TEST_TEXT,
    "tests/test_seqs.py": TEST_SEQS,
}
"""Path -> content of the bundled repository."""


def fixture_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(FILES):
        digest.update(f"{path}\0{FILES[path]}\0".encode())
    return digest.hexdigest()[:16]


def write_repo(dest: str | Path) -> Path:
    """Write the repository's files under `dest` (which must not exist yet, or be empty)."""
    dest = Path(dest)
    for rel, content in FILES.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return dest


def ensure_repo() -> Path:
    """The bundled repository under the cache (written once, atomically), e.g. ``~/.cache/agentgym/code_repair/minilib-…``."""
    dest = cache_root() / "code_repair" / f"minilib-{fixture_hash()}"
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".minilib-", dir=dest.parent))
    try:
        write_repo(tmp)
        os.chmod(tmp, 0o755)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
