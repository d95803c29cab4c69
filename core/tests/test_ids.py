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


def test_sortable_ids_are_public_ids_in_creation_order_under_any_collation(monkeypatch):
    import time

    from core.ids import is_public_id, new_sortable_public_id, sortable_uuid

    made = []
    for millis in (1_700_000_000_000, 1_700_000_000_001, 1_700_000_003_600, 1_800_000_000_000):
        monkeypatch.setattr(time, "time_ns", lambda millis=millis: millis * 1_000_000)
        made.append((new_sortable_public_id("evt"), sortable_uuid()))
    ids = [public_id for public_id, _ in made]
    assert all(is_public_id(public_id, "evt") for public_id in ids)
    assert ids == sorted(ids) == sorted(ids, key=str.lower)  # digits and lower-case letters only in the stamp
    uuids = [value for _, value in made]
    assert uuids == sorted(uuids) and {value.version for value in uuids} == {7}
