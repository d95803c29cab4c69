from collections import Counter

from core.ids import ALPHABET, is_public_id, new_public_id, random_string


def test_public_id_shape():
    value = new_public_id("cust")
    assert is_public_id(value, "cust") and not is_public_id(value, "ba")
    assert not is_public_id(value + "x", "cust") and not is_public_id(value[:-1] + "\x00", "cust")
    assert not is_public_id(None, "cust") and not is_public_id(5, "cust")


def test_random_string_uses_every_character_evenly():
    counts = Counter(random_string(62_000))
    assert set(counts) == set(ALPHABET)
    # 1,000 expected per character; 6 standard deviations (~190) either way
    assert all(800 < count < 1200 for count in counts.values()), counts
