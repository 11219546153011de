"""Small helpers shared by the command-line tools."""

from typing import Sequence, Tuple

KIBI = 1024.0
MEBI = KIBI * 1024
GIBI = MEBI * 1024
TEBI = GIBI * 1024

_BI_UNITS = ((TEBI, "TiB"), (GIBI, "GiB"), (MEBI, "MiB"), (KIBI, "KiB"))


def parse_fold_axis(axis: str) -> Sequence[int]:
    """0-indexed fold axes of an --axis value.

    The command line counts axes from 1 ("1-2,4"; 0 is ignored); a
    negative value ("-1") counts from the last axis and stays as is.
    """
    if axis.startswith("-"):
        return [int(axis)]
    from clusterpy.RangeSet import RangeSet
    return tuple(idx - 1 for idx in RangeSet(axis).intiter() if idx > 0)


def human_bi_bytes_unit(value: float) -> str:
    """A byte count with a binary unit: "512 B", "1.50 KiB", "2.00 GiB"."""
    for size, unit in _BI_UNITS:
        if value >= size:
            return "%.2f %s" % (value / size, unit)
    return "%d B" % value


def nodeset_cmpkey(nodeset) -> Tuple[int, str]:
    """Sort key of node sets: biggest first, then by first node."""
    return -len(nodeset), nodeset[0]


def bufnodeset_cmpkey(buf) -> Tuple[int, str]:
    """nodeset_cmpkey of the node set of a (buffer, nodeset) pair."""
    return nodeset_cmpkey(buf[1])
