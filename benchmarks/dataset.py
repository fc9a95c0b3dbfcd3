"""The data every implementation works on, generated once per run from a fixed seed."""

from __future__ import annotations

import dataclasses
import random

TWEETS_PER_USER = 10
AGES = range(20, 70)
JOIN_MAX_AGE = 45  # ``users.age < 45`` keeps half of the users, so half of the tweets


@dataclasses.dataclass
class Dataset:
    """Rows for the tables, the rows to insert, the keys to fetch and the compile arguments.

    Rows to insert come both as dicts (what the ORMs' APIs take) and as tuples (what
    ``cursor.executemany`` takes), so that no implementation converts inside its timing.
    """

    n: int
    users: list  # (id, name, email, age)
    tweets: list  # (id, user_id, content, likes)
    entries: list  # {"name", "email", "age"} for the insert workloads
    entry_tuples: list  # the same rows as (name, email, age)
    pk_sample: list  # tweet ids for the get-by-primary-key workload
    compile_args: list  # (min_age, min_likes, excluded_name) per compiled query
    join_max_age: int = JOIN_MAX_AGE

    @property
    def join_rows(self):
        """How many tweets the join workload returns."""
        ages = {user[0]: user[3] for user in self.users}
        return sum(1 for tweet in self.tweets if ages[tweet[1]] < self.join_max_age)


def _person(i):
    return f"user{i:06d}", f"user{i:06d}@example.com", AGES[i % len(AGES)]


def generate(n, gets=1000, compiles=1000, seed=20240601):
    rng = random.Random(seed)
    user_count = max(n // TWEETS_PER_USER, 1)
    users = [(i, *_person(i)) for i in range(1, user_count + 1)]
    tweets = [
        (i, (i - 1) % user_count + 1, f"tweet {i}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}", i % 100)
        for i in range(1, n + 1)
    ]
    entry_tuples = [_person(i) for i in range(1, n + 1)]
    entries = [{"name": name, "email": email, "age": age} for name, email, age in entry_tuples]
    return Dataset(
        n=n,
        users=users,
        tweets=tweets,
        entries=entries,
        entry_tuples=entry_tuples,
        pk_sample=[rng.randint(1, n) for _ in range(gets)],
        compile_args=[(AGES[i % len(AGES)], i % 100, f"user{i:06d}") for i in range(compiles)],
    )


_WORDS = (
    "database",
    "query",
    "index",
    "python",
    "latency",
    "commit",
    "replica",
    "cache",
    "schema",
    "cursor",
    "planner",
    "vacuum",
    "shard",
    "tuple",
    "lock",
    "journal",
)
