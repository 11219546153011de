"""The set protocol shared by RangeSet, RangeSetND and NodeSet.

A class using SetAlgebra provides ``copy``, ``issuperset`` and the
in-place operations (``update``, ``intersection_update``,
``difference_update``, ``symmetric_difference_update``).  Its ``_OPERAND``
class attribute is the type (or tuple of types) of the operands it works
with (operators give NotImplemented for others, comparisons raise
TypeError with the ``_OPERAND_ERROR`` message).  SetAlgebra derives from
those: ``issubset``, the operators, the in-place operators, the copy-based
operations (a class may override them with faster ones) and the ordering by
inclusion (``a < b`` is a proper subset).
"""


class SetAlgebra:
    """Operators and derived operations of a set-like class."""

    __slots__ = ()

    def _binary_sanity_check(self, other):
        if not isinstance(other, self._OPERAND):
            raise TypeError(self._OPERAND_ERROR)

    def issubset(self, other):
        """Whether every element is in another set."""
        self._binary_sanity_check(other)
        return other.issuperset(self)

    # -- new sets: a copy changed in place ---------------------------------

    def _changed_copy(self, method, other):
        result = self.copy()
        getattr(result, method)(other)
        return result

    def union(self, other):
        """New set with the elements of both."""
        return self._changed_copy("update", other)

    def intersection(self, other):
        """New set with the elements common to both."""
        return self._changed_copy("intersection_update", other)

    def difference(self, other):
        """New set with the elements of this one not in the other."""
        return self._changed_copy("difference_update", other)

    def symmetric_difference(self, other):
        """New set with the elements in exactly one of both."""
        return self._changed_copy("symmetric_difference_update", other)

    # -- operators ---------------------------------------------------------

    def _operator(self, other, method, accepted=None):
        if not isinstance(other, accepted or self._OPERAND):
            return NotImplemented
        return getattr(self, method)(other)

    def __or__(self, other):
        return self._operator(other, "union")

    def __and__(self, other):
        return self._operator(other, "intersection")

    def __sub__(self, other):
        return self._operator(other, "difference")

    def __xor__(self, other):
        return self._operator(other, "symmetric_difference")

    def _in_place(self, other, method):
        self._binary_sanity_check(other)
        getattr(self, method)(other)
        return self

    def __ior__(self, other):
        return self._in_place(other, "update")

    def __iand__(self, other):
        return self._in_place(other, "intersection_update")

    def __isub__(self, other):
        return self._in_place(other, "difference_update")

    def __ixor__(self, other):
        return self._in_place(other, "symmetric_difference_update")

    # -- ordering by inclusion -----------------------------------------------

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
        return self._size() != other._size() and included(other)

    def __ne__(self, other):
        same = self.__eq__(other)
        return same if same is NotImplemented else not same


def split_evenly(seq, nbr):
    """Iterate over at most nbr slices of seq (which has len() and
    slicing) of (almost) equal sizes, the first ones one element larger."""
    assert nbr > 0
    length = seq._size()
    size, left = divmod(length, nbr)
    begin = 0
    for i in range(min(nbr, length)):
        end = begin + size + (i < left)
        yield seq[begin:end]
        begin = end
