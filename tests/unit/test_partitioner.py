"""The relay's partitioner puts every key where aiokafka's default one (and the Java client) does."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from shared.partitioner import KeyPartitioner, murmur2


@given(st.binary(max_size=64))
def test_murmur2_equals_aiokafkas(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_default_partitioners_partition(key: bytes, count: int) -> None:
    partitions = list(range(count))
    partitioner = KeyPartitioner(max_keys=4)
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert partitioner(key, partitions, partitions) == expected
    assert partitioner(key, partitions, partitions) == expected  # remembered


def test_lead_ids_go_where_they_always_went() -> None:
    partitioner = KeyPartitioner(max_keys=10)
    partitions = [0, 1, 2, 3, 4, 5]
    for _ in range(100):
        key = str(uuid.uuid4()).encode()
        assert partitioner(key, partitions, partitions[:2]) == DefaultPartitioner()(
            key, partitions, partitions[:2]
        )


def test_a_keyless_message_goes_to_an_available_partition() -> None:
    assert KeyPartitioner()(None, [0, 1, 2], [2]) == 2
    assert KeyPartitioner()(None, [0, 1, 2], []) in {0, 1, 2}
