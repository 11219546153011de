"""Ordering of sets by inclusion, shared by RangeSet, RangeSetND and NodeSet.

``a <= b`` is ``a.issubset(b)``, ``a < b`` a proper subset, and so on; the
class provides ``issubset``, ``issuperset`` and ``_binary_sanity_check``
(which raises TypeError for an operand of the wrong kind).
"""


class SubsetOrder(object):
    """Comparison operators meaning inclusion."""

    __slots__ = ()

    def __le__(self, other):
        return self.issubset(other)

    def __ge__(self, other):
        return self.issuperset(other)

    def __lt__(self, other):
        return self._proper(other, self.issubset)

    def __gt__(self, other):
        return self._proper(other, self.issuperset)

    def _proper(self, other, included):
        """Inclusion test, the sizes being different (proper subset or
        superset)."""
        self._binary_sanity_check(other)
        return len(self) != len(other) and included(other)
