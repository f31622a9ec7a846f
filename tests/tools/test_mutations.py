"""The mutation suite's list stays runnable as the code changes: every planted bug still
applies to exactly one place in its function, and every test it names exists. (Whether the
tests catch them is `make mutations`' job, not the default tier's.)"""

import pytest

from tools.mutation_list import MUTATIONS
from tools.mutations import Mutation, check_list, mutated_source

SOURCE = '''LIMIT = 3


class Box:
    def put(self, x):
        return x + 1

    def take(self, x):
        return x + 1


def free(x):
    return x + 1
'''


def test_every_planted_bug_applies_and_names_existing_tests():
    assert check_list(MUTATIONS) == []
    assert len(MUTATIONS) >= 30


def test_a_bug_is_planted_only_inside_its_function():
    bug = Mutation("m", "f.py", "Box.take", "x + 1", "x - 1", ("t",))
    assert mutated_source(SOURCE, bug) == SOURCE.replace(
        "    def take(self, x):\n        return x + 1",
        "    def take(self, x):\n        return x - 1")
    constant = Mutation("c", "f.py", "LIMIT", "LIMIT = 3", "LIMIT = 4", ("t",))
    assert mutated_source(SOURCE, constant).startswith("LIMIT = 4\n")


@pytest.mark.parametrize("function, old, message", [
    ("Box.missing", "x + 1", "no 'Box.missing'"),
    ("Box", "x + 1", "found it 2 times"),
    ("free", "x * 2", "found it 0 times"),
])
def test_a_bug_that_does_not_apply_is_named(function, old, message):
    with pytest.raises(ValueError, match=message):
        mutated_source(SOURCE, Mutation("m", "f.py", function, old, "y", ("t",)))
