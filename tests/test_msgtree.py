"""MsgTree: messages by key, gathered by identical content."""

import pytest

from clusterpy.MsgTree import MODE_DEFER, MODE_SHIFT, MODE_TRACE, MsgTree, MsgTreeElem


def build(mode=MODE_DEFER):
    tree = MsgTree(mode)
    for key, lines in (("a", [b"x", b"y"]), ("b", [b"x", b"y"]), ("c", [b"x"]),
                       ("d", [b"z", b"y"])):
        for line in lines:
            tree.add(key, line)
    return tree


def groups(tree, **kwargs):
    return sorted((bytes(elem), sorted(keys)) for elem, keys in tree.walk(**kwargs))


@pytest.mark.parametrize("mode", [MODE_DEFER, MODE_SHIFT, MODE_TRACE])
def test_get_and_len(mode):
    tree = build(mode)
    assert len(tree) == 4
    assert bytes(tree.get("a")) == b"x\ny"
    assert tree.get("c").message() == b"x"
    assert list(tree["d"].lines()) == [b"z", b"y"]
    assert tree.get("nope", 42) == 42
    with pytest.raises(KeyError):
        tree["nope"]
    assert sorted(tree.keys()) == ["a", "b", "c", "d"]
    assert sorted(tree) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("mode", [MODE_DEFER, MODE_SHIFT])
def test_walk_gathers_identical_messages(mode):
    tree = build(mode)
    assert groups(tree) == [(b"x", ["c"]), (b"x\ny", ["a", "b"]), (b"z\ny", ["d"])]
    assert groups(tree, match=lambda k: k in "ad") == [(b"x\ny", ["a"]), (b"z\ny", ["d"])]
    assert groups(tree, mapper=str.upper) == [(b"x", ["C"]), (b"x\ny", ["A", "B"]),
                                             (b"z\ny", ["D"])]
    assert sorted(bytes(m) for m in tree.messages()) == [b"x", b"x\ny", b"z\ny"]


def test_defer_becomes_shift_after_walk():
    tree = build()
    assert tree.mode == MODE_DEFER
    list(tree.walk())
    assert tree.mode == MODE_SHIFT
    tree.add("c", b"y")  # c now has the same message as a and b
    assert groups(tree) == [(b"x\ny", ["a", "b", "c"]), (b"z\ny", ["d"])]


def test_items_and_remove():
    tree = build()
    assert sorted((k, bytes(m)) for k, m in tree.items()) == [
        ("a", b"x\ny"), ("b", b"x\ny"), ("c", b"x"), ("d", b"z\ny")]
    assert [k for k, _ in tree.items(match=lambda k: k == "b", mapper=str.upper)] == ["B"]
    tree.remove(lambda k: k in "ab")
    assert sorted(tree.keys()) == ["c", "d"]
    assert groups(tree) == [(b"x", ["c"]), (b"z\ny", ["d"])]
    tree.remove()
    assert len(tree) == 0
    assert list(tree.walk()) == []


def test_clear():
    tree = build()
    tree.clear()
    assert len(tree) == 0 and tree.get("a") is None


def test_trace_mode_walk_trace():
    tree = build(MODE_TRACE)
    # every element a key went through, with its depth and child count
    rows = sorted((line, sorted(keys), depth, nchildren)
                  for line, keys, depth, nchildren in tree.walk_trace())
    assert rows == [(b"x", ["a", "b", "c"], 1, 1), (b"y", ["a", "b"], 2, 0),
                    (b"y", ["d"], 2, 0), (b"z", ["d"], 1, 1)]
    with pytest.raises(AssertionError):
        list(build(MODE_SHIFT).walk_trace())


def test_chunks_and_lines_mix():
    tree = MsgTree()
    tree._add_chunk("k", b"one\ntwo")
    tree.add("k", b"three")
    tree._add_chunk("k", b"")          # one empty line
    assert list(tree.get("k").lines()) == [b"one", b"two", b"three", b""]
    assert tree._depth() == 4


def test_line_with_newline_kept_whole():
    tree = MsgTree()
    tree.add("k", b"a\nb")
    tree.add("k", b"c")
    tree.add("j", b"a")
    tree.add("j", b"b")
    tree.add("j", b"c")
    assert list(tree.get("k").lines()) == [b"a\nb", b"c"]
    # same bytes once joined, but not the same lines: not gathered
    assert len(list(tree.walk())) == 2


def test_seal_shares_identical_messages():
    tree = MsgTree()
    for key in ("a", "b"):
        tree._add_chunk(key, b"l1\nl2")
        tree._add_chunk(key, b"l3")
        tree._seal(key)
    assert tree._keys["a"][0] is tree._keys["b"][0]
    assert groups(tree) == [(b"l1\nl2\nl3", ["a", "b"])]


def test_elem_api():
    root = MsgTreeElem()
    assert len(root) == 0 and list(root) == []
    child = root.append(b"first").append(b"second")
    assert child.message() == b"first\nsecond"
    assert child[1] == b"second"
    assert child == root.append(b"first").append(b"second")
    assert len(child) == len(b"first\nsecond")
    with pytest.raises(TypeError):
        str(child)
    with pytest.raises(TypeError):
        hash(child)


def test_walk_again_sees_every_change():
    """Groups are kept between walks; any change must show in the next one."""
    tree = build()
    assert groups(tree) == [(b"x", ["c"]), (b"x\ny", ["a", "b"]), (b"z\ny", ["d"])]
    first = list(tree.walk())
    first[0][1].append("intruder")  # the caller's list, not the tree's
    assert groups(tree) == [(b"x", ["c"]), (b"x\ny", ["a", "b"]), (b"z\ny", ["d"])]
    tree._add_chunk("d", b"w\nv")
    assert groups(tree) == [(b"x", ["c"]), (b"x\ny", ["a", "b"]), (b"z\ny\nw\nv", ["d"])]
    tree.add("e", b"x")
    assert groups(tree) == [(b"x", ["c", "e"]), (b"x\ny", ["a", "b"]),
                            (b"z\ny\nw\nv", ["d"])]
    # append then compact through get(): the number of parts is unchanged
    tree.add("c", b"y")
    assert bytes(tree.get("c")) == b"x\ny"
    assert groups(tree) == [(b"x", ["e"]), (b"x\ny", ["a", "b", "c"]),
                            (b"z\ny\nw\nv", ["d"])]
    tree.remove(lambda key: key == "e")
    tree._add_line("f", b"x")
    assert groups(tree) == [(b"x", ["f"]), (b"x\ny", ["a", "b", "c"]),
                            (b"z\ny\nw\nv", ["d"])]
    tree.add("f", b"a\nb")  # a line holding b"\n" stays one line
    assert list(tree.get("f").lines()) == [b"x", b"a\nb"]
    assert groups(tree) == [(b"x\na\nb", ["f"]), (b"x\ny", ["a", "b", "c"]),
                            (b"z\ny\nw\nv", ["d"])]
    tree.clear()
    assert groups(tree) == []


def test_same_message_other_chunking_groups_in_key_order():
    tree = MsgTree()
    tree.add("a", b"x")
    tree.add("a", b"y")
    tree._add_chunk("b", b"x\ny")
    tree.add("c", b"x")
    tree.add("c", b"y")
    assert [(bytes(elem), keys) for elem, keys in tree.walk()] == [(b"x\ny", ["a", "b", "c"])]
    assert [(bytes(elem), keys) for elem, keys in tree.walk()] == [(b"x\ny", ["a", "b", "c"])]



def test_big_chunk_lists_group_by_parts_in_key_order():
    """Keys fed equal lists of big chunks (other objects) share one joined
    message; lists with the same samples but another middle chunk, or the
    same content chunked otherwise, still group by exact content."""
    big = b"x" * 5000
    other = b"x" * 2000 + b"y" + b"x" * 2999
    tree = MsgTree()
    for key, chunks in (("a", [big, big, big]), ("b", [big, other, big]),
                        ("c", [bytes(big), bytes(big), bytes(big)]),
                        ("d", [big + b"\n" + big, big]), ("e", [big, other, bytes(big)])):
        for chunk in chunks:
            tree._add_chunk(key, chunk)
    three = b"\n".join([big] * 3)
    walked = [(bytes(elem), keys) for elem, keys in tree.walk()]
    assert walked == [(three, ["a", "c", "d"]), (b"\n".join([big, other, big]), ["b", "e"])]
    assert tree.get("a").message() is tree.get("c").message()
    assert list(tree.get("c").lines()) == [big] * 3
    assert [(bytes(elem), keys) for elem, keys in tree.walk()] == walked


def test_big_messages_group_by_exact_content():
    """Big messages are bucketed by samples, then compared whole."""
    big = b"x" * 300000
    tree = MsgTree()
    # same content, other objects and other chunkings
    tree._add_chunk("a", big + b"\n" + big)
    tree._add_chunk("b", bytes(big))
    tree._add_chunk("b", bytes(big))
    tree._add_chunk("c", big[:-1] + b"y\n" + big)
    # many messages with the same samples but different middles: a bucket
    # overflows to hashing and still groups equal contents
    for i in range(20):
        body = big[:1000] + b"%06d" % (i % 12) + big[1006:]
        tree._add_chunk("m%d" % i, body)
    groups_ = [(bytes(elem), sorted(keys)) for elem, keys in tree.walk()]
    assert (big + b"\n" + big, ["a", "b"]) in groups_
    assert (big[:-1] + b"y\n" + big, ["c"]) in groups_
    for i in range(12):
        body = big[:1000] + b"%06d" % i + big[1006:]
        expect = sorted("m%d" % j for j in range(20) if j % 12 == i)
        assert (body, expect) in groups_
    assert len(groups_) == 14
    assert [len(keys) for _, keys in tree.walk()] == [len(keys) for _, keys in groups_]
    assert list(tree.get("b").lines()) == [big, big]
