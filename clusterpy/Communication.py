"""Communication: the message channel between a head and a gateway (tree mode).

Theory of operation
-------------------
A channel is one XML document in each direction over a gateway's stdin and
stdout (see docs/tree-protocol.md for the wire facts): ``<channel>`` opens
it, each ``<message>`` element on its own line is one message, and
``</channel>`` closes it.  :class:`Channel` is an event handler of the
worker that carries the streams: every line it reads is fed to an
incremental SAX parser whose content handler (:class:`XMLReader`) turns
elements into :class:`Message` objects, handed in order to ``recv()``.
Subclasses (``Propagation.PropagationChannel`` on the head,
``Gateway.GatewayChannel`` on the gateway) implement ``start()`` and
``recv()``.

Payloads are base64 of a protocol 4 pickle, cut into lines of
``CLUSTERSHELL_GW_B64_LINE_LENGTH`` characters.  The topology a head sends
is written with ClusterShell's class paths (``ClusterShell.Topology...``)
whatever side writes it, and read back into clusterpy's classes, so that
ClusterShell 1.10.1 heads and gateways understand ours and we theirs; no
other class of those modules is ever built from the wire.
"""

import base64
import io
import logging
import os
import pickle
import xml.sax
import xml.sax.expatreader
from typing import Any, Mapping, Optional
from collections import deque
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import XMLGenerator

from clusterpy import CLUSTERSHELL_VERSION as __version__
from clusterpy.Event import EventHandler

ENCODING = "utf-8"

DEFAULT_B64_LINE_LENGTH = 65536

#: fixed so that every Python 3 gateway (and ClusterShell 1.10.1) reads it:
#: protocol 4 is read by Python 3.4 and later, 5 only by 3.8 and later
GW_PICKLE_PROTOCOL = 4

#: the version of the tree protocol spoken, announced in the channel start
#: tag (as ClusterShell 1.10.1 does) and in the configuration message
PROTOCOL_VERSION = __version__

LOGGER = logging.getLogger(__name__)


class MessageProcessingError(Exception):
    """An incoming or outgoing message cannot be processed."""


def version_mismatch(head: Optional[str], gateway: Optional[str],
                     gateway_name: str) -> Optional[str]:
    """The error text when a head announcing protocol version `head` and a
    gateway `gateway_name` announcing `gateway` cannot talk, else None.
    Versions of the same major.minor series (1.10.x) speak the same
    messages and payloads; ClusterShell 1.10.1 only logs the peer's
    version, so a peer of another series would fail later and obscurely."""
    def series(version):
        return tuple((version or "").split(".")[:2])
    if head and gateway and series(head) == series(gateway):
        return None
    return ("tree protocol version mismatch: head speaks %s, gateway %s speaks %s"
            % (head or "(none)", gateway_name, gateway or "(none)"))


# --- the topology on the wire ------------------------------------------------

class _Global(object):
    """A class named by its ClusterShell path, written into a pickle without
    being imported (ClusterShell need not be installed)."""

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __call__(self, *args):
        raise TypeError("%s.%s is a pickle marker" % (self.module, self.name))


_CS_TREE = _Global("ClusterShell.Topology", "TopologyTree")
_CS_GROUP = _Global("ClusterShell.Topology", "TopologyNodeGroup")
_CS_NODESET = _Global("ClusterShell.NodeSet", "NodeSet")


class _WirePickler(pickle._Pickler):
    """Pickles clusterpy's topology objects as ClusterShell's: a tree and
    its groups by their attributes, node sets as NodeSet("<text>")."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_marker(self, marker):
        self.save(marker.module)
        self.save(marker.name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(marker)

    dispatch[_Global] = _save_marker

    def reducer_override(self, obj):
        from clusterpy.NodeSet import NodeSet
        from clusterpy.Topology import TopologyTree, TopologyNodeGroup
        if isinstance(obj, NodeSet):
            return (_CS_NODESET, (str(obj),))
        if isinstance(obj, TopologyNodeGroup):
            return (_CS_GROUP, (), {"nodeset": obj.nodeset, "parent": obj.parent,
                                    "_children": list(obj._children),
                                    "_children_len": obj._children_len,
                                    "_children_ns": obj._children_ns})
        if isinstance(obj, TopologyTree):
            return (_CS_TREE, (), {"root": obj.root, "groups": list(obj.groups)})
        return NotImplemented


class _Shadow(object):
    """What a ClusterShell topology object unpickles into on our side: its
    constructor arguments and pickled state, converted afterwards."""

    args = ()       # NEWOBJ makes one without calling __init__
    state = {}

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state):
        if isinstance(state, tuple):        # (dict state, slot state)
            merged = dict(state[0] or {})
            merged.update(state[1] or {})
            state = merged
        self.state = state


class _ShadowTree(_Shadow):
    pass


class _ShadowGroup(_Shadow):
    pass


class _ShadowNodeSet(_Shadow):
    pass


class _ShadowRangeSet(_Shadow):
    pass


class _ShadowRangeSetND(_Shadow):
    pass


_SHADOWS = {
    ("ClusterShell.Topology", "TopologyTree"): _ShadowTree,
    ("ClusterShell.Topology", "TopologyNodeGroup"): _ShadowGroup,
    ("ClusterShell.NodeSet", "NodeSet"): _ShadowNodeSet,
    ("ClusterShell.RangeSet", "RangeSet"): _ShadowRangeSet,
    ("ClusterShell.RangeSet", "RangeSetND"): _ShadowRangeSetND,
}


class _WireUnpickler(pickle.Unpickler):
    """Reads payloads; ClusterShell topology classes become shadows, other
    ClusterShell paths are looked up in clusterpy."""

    def find_class(self, module, name):
        shadow = _SHADOWS.get((module, name))
        if shadow is not None:
            return shadow
        if module == "ClusterShell" or module.startswith("ClusterShell."):
            module = "clusterpy" + module[len("ClusterShell"):]
        return pickle.Unpickler.find_class(self, module, name)


def _rangeset_text(shadow):
    if shadow.args and shadow.args[0] is not None:
        return str(shadow.args[0])
    return ""


def _nodeset_text(shadow):
    """Node set text of a shadow NodeSet: its constructor argument, or
    ClusterShell's pickled patterns (pattern -> None, RangeSet, RangeSetND)."""
    if shadow.args:
        return str(shadow.args[0] or "")
    parts = []
    patterns = shadow.state.get("_patterns") or {}
    for pattern, ranges in patterns.items():
        if ranges is None:
            parts.append(pattern.replace("%%", "%"))
        elif isinstance(ranges, _ShadowRangeSet):
            text = _rangeset_text(ranges)
            if text:
                parts.append(pattern % ("[%s]" % text))
        elif isinstance(ranges, _ShadowRangeSetND):
            for vector in ranges.state.get("_veclist", ()):
                parts.append(pattern % tuple("[%s]" % _rangeset_text(r) for r in vector))
        else:
            raise MessageProcessingError("unexpected node set pattern %r" % (pattern,))
    return ",".join(parts)


def _unshadow(obj):
    """clusterpy objects for the shadows in a decoded payload."""
    from clusterpy.NodeSet import NodeSet
    if isinstance(obj, _ShadowNodeSet):
        return NodeSet(_nodeset_text(obj))
    if isinstance(obj, _ShadowTree):
        return _tree_from_shadow(obj)
    return obj


def _tree_from_shadow(shadow):
    from clusterpy.NodeSet import NodeSet
    from clusterpy.Topology import TopologyTree, TopologyNodeGroup

    def group(sgroup):
        state = sgroup.state
        made = TopologyNodeGroup(NodeSet(_nodeset_text(state["nodeset"])))
        for child in state.get("_children") or ():
            made.add_child(group(child))
        return made

    tree = TopologyTree()
    root = shadow.state.get("root")
    if root is not None:
        tree.load(group(root))
    return tree


def _b64_lines(encoded):
    line_length = int(os.environ.get("CLUSTERSHELL_GW_B64_LINE_LENGTH",
                                     DEFAULT_B64_LINE_LENGTH))
    if len(encoded) <= line_length:
        return encoded
    return b"\n".join(encoded[pos:pos + line_length]
                      for pos in range(0, len(encoded), line_length))


def _dumps(inst):
    from clusterpy.Topology import TopologyTree
    if isinstance(inst, TopologyTree):
        out = io.BytesIO()
        _WirePickler(out, GW_PICKLE_PROTOCOL).dump(inst)
        return out.getvalue()
    return pickle.dumps(inst, GW_PICKLE_PROTOCOL)


# --- reading -----------------------------------------------------------------

class XMLReader(ContentHandler):
    """SAX content handler turning a channel document into Message objects
    (queued; see msg_available() and pop_msg())."""

    def __init__(self):
        ContentHandler.__init__(self)
        self.msg_queue = deque()
        self.version = None
        self._draft = None

    def startElement(self, name, attrs):
        if name == "channel":
            self.version = attrs.get("version")
            self.msg_queue.appendleft(StartMessage())
        elif name == "message":
            self._draft_new(attrs)
        else:
            raise MessageProcessingError("Invalid starting tag %s" % name)

    def endElement(self, name):
        if name == "message":
            self.msg_queue.appendleft(self._draft)
            self._draft = None
        elif name == "channel":
            self.msg_queue.appendleft(EndMessage())

    def characters(self, content):
        if self._draft is not None:
            self._draft.data_update(content.encode(ENCODING))

    def msg_available(self) -> bool:
        """Whether a message is ready."""
        return len(self.msg_queue) > 0

    def pop_msg(self):
        """The oldest ready message, or None."""
        if self.msg_queue:
            return self.msg_queue.pop()
        return None

    def _draft_new(self, attributes):
        msg_type = attributes.get("type")
        ctor = _MESSAGE_TYPES.get(msg_type)
        if ctor is None:
            if msg_type:
                raise MessageProcessingError("Unknown message type %s" % msg_type)
            raise MessageProcessingError("Unknown message with no type")
        self._draft = ctor()
        self._draft.selfbuild(attributes)


class _StreamWriter(object):
    """File-like object writing to the channel worker's writer stream."""

    __slots__ = ("worker", "sname")

    def __init__(self, worker, sname):
        self.worker = worker
        self.sname = sname

    def write(self, data):
        if isinstance(data, str):
            data = data.encode(ENCODING)
        self.worker.write(data, sname=self.sname)

    def flush(self):
        pass


class Channel(EventHandler):
    """Handler of a worker carrying a channel (see the module documentation).
    Subclasses implement start() (the streams are up) and recv(msg).

    An initiator (head side) reports channel errors to itself as stderr
    messages; the other side (gateway) answers them with an ErrorMessage.
    """

    SNAME_WRITER = "ch-writer"
    SNAME_READER = "ch-reader"
    SNAME_ERROR = "ch-error"

    def __init__(self, initiator=False):
        EventHandler.__init__(self)
        self.worker = None
        self.opened = False
        self.setup = False
        self.initiator = initiator
        self._dead = False          # closed: what is still read is dropped
        self._xml_reader = XMLReader()
        self._parser = xml.sax.make_parser(["IncrementalParser"])
        self._parser.setContentHandler(self._xml_reader)
        self.logger = logging.getLogger(__name__)

    def _write_raw(self, data):
        self.worker.write(data, sname=self.SNAME_WRITER)

    def _init(self):
        """Start our document."""
        self._write_raw(b'<?xml version="1.0" encoding="utf-8"?>\n')

    def _open(self):
        """Open the channel element."""
        gen = XMLGenerator(_StreamWriter(self.worker, self.SNAME_WRITER), encoding=ENCODING)
        gen.startElement("channel", {"version": __version__})

    def _close(self, abort=False):
        """Close the channel (end our document unless aborting) and the
        worker carrying it."""
        if self.opened and not abort:
            self._write_raw(b"</channel>")
        self.opened = self.setup = False
        self._dead = True
        if self.worker is not None:
            self.worker.abort()

    def ev_start(self, worker):
        self.worker = worker
        self.start()

    def ev_read(self, worker, node, sname, msg):
        if self._dead:
            return
        if sname == self.SNAME_ERROR:
            if self.initiator:
                self.recv(StdErrMessage(node, msg))
            return
        try:
            self._parser.feed(msg + b"\n")
        except SAXParseException as exc:
            self.logger.error("SAXParseException: %s: %s", exc.getMessage(), msg)
            self._fatal(node, exc.getMessage(), "Parse error: %s" % exc.getMessage())
            return
        except LookupError as exc:     # expat: an unknown encoding in the XML declaration
            self.logger.error("Parse error: %s: %s", exc, msg)
            self._fatal(node, str(exc), "Parse error: %s" % exc)
            return
        except MessageProcessingError as exc:
            self.logger.error("MessageProcessingError: %s (initiator=%s)", exc, self.initiator)
            self._fatal(node, str(exc), str(exc))
            return
        reader = self._xml_reader
        while reader.msg_queue:
            self.recv(reader.msg_queue.pop())
            if self._dead:
                break

    def _fatal(self, node, text, reason):
        """A channel error: report it (initiator) or answer it, then close."""
        if self.initiator:
            self.recv(StdErrMessage(node, text.encode(ENCODING)))
        else:
            self.send(ErrorMessage(reason))
        self._close()

    def send(self, msg: "Message") -> None:
        """Write `msg` on the channel."""
        self._write_raw(msg.xml() + b"\n")

    def start(self) -> None:
        """The streams are up (subclasses)."""
        raise NotImplementedError("Abstract method: subclasses must implement")

    def recv(self, msg: "Message") -> None:
        """An incoming message (subclasses)."""
        raise NotImplementedError("Abstract method: subclasses must implement")


# --- messages ----------------------------------------------------------------

class Message(object):
    """Base of channel messages: `type`, `msgid` and the attributes listed
    in `attr` (name -> converter from the wire string), plus a payload for
    types with has_payload."""

    _inst_counter = 0
    ident = "GEN"
    has_payload = False

    def __init__(self):
        self.attr = {"type": str, "msgid": int}
        self.type = self.__class__.ident
        self.msgid = Message._inst_counter
        self.data = None
        Message._inst_counter += 1

    def data_encode(self, inst: Any) -> None:
        """Store `inst`, pickled and base64 encoded, as the payload."""
        self.data = _b64_lines(base64.b64encode(_dumps(inst)))

    def data_decode(self) -> Any:
        """The object in the payload (MessageProcessingError if invalid)."""
        try:
            raw = base64.b64decode(self.data)
            return _unshadow(_WireUnpickler(io.BytesIO(raw)).load())
        except RecursionError:
            raise MessageProcessingError("Message %s has an invalid payload (nested too deep)"
                                         % self.ident)
        except Exception as exc:  # noqa: BLE001 - whatever a bad pickle raises
            # (EOFError, UnpicklingError, binascii.Error, struct.error,
            # OverflowError, ...) is a protocol error of the channel
            raise MessageProcessingError("Message %s has an invalid payload (%s)"
                                         % (self.ident, exc))

    def data_update(self, raw: bytes) -> None:
        """Append payload text read from the wire."""
        if not self.has_payload:
            raise MessageProcessingError("Got unexpected payload for Message %s" % self.ident)
        self.data = raw if self.data is None else self.data + raw

    def selfbuild(self, attributes: Mapping[str, str]) -> None:
        """Set the attributes from the wire ones."""
        for key, convert in self.attr.items():
            try:
                setattr(self, key, convert(attributes[key]))
            except KeyError:
                raise MessageProcessingError('Invalid "message" attributes: missing key "%s"'
                                             % key)
            except ValueError as exc:
                raise MessageProcessingError('Invalid "message" attribute "%s": %s'
                                             % (key, exc))

    def __str__(self):
        shown = ", ".join("%s: %s" % (key, getattr(self, key, None)) for key in self.attr)
        return "Message %s (%s)" % (self.type, shown)

    def xml(self) -> bytes:
        """The message as one XML element (bytes)."""
        out = io.BytesIO()
        gen = XMLGenerator(out, encoding=ENCODING)
        gen.startElement("message", {key: str(getattr(self, key)) for key in self.attr})
        if self.data:
            gen.characters(self.data.decode("ascii") if isinstance(self.data, bytes)
                           else self.data)
        gen.endElement("message")
        return out.getvalue()


class ConfigurationMessage(Message):
    """CFG: the topology, sent to a gateway named `gateway`."""

    ident = "CFG"
    has_payload = True

    def __init__(self, gateway=""):
        Message.__init__(self)
        self.attr.update({"gateway": str, "version": str})
        self.gateway = gateway
        #: the head's protocol version (ClusterShell 1.10.1 heads do not
        #: send it: None when read from them)
        self.version = PROTOCOL_VERSION

    def selfbuild(self, attributes: Mapping[str, str]) -> None:
        attr = self.attr
        self.attr = {key: conv for key, conv in attr.items() if key != "version"}
        try:
            Message.selfbuild(self, attributes)
        finally:
            self.attr = attr
        self.version = attributes.get("version")


class RoutedMessageBase(Message):
    """A message belonging to a head worker (`srcid`)."""

    def __init__(self, srcid):
        Message.__init__(self)
        self.attr.update({"srcid": int})
        self.srcid = srcid


class ControlMessage(RoutedMessageBase):
    """CTL: an action (shell, write, eof) on `target`."""

    ident = "CTL"
    has_payload = True

    def __init__(self, srcid=0):
        RoutedMessageBase.__init__(self, srcid)
        self.attr.update({"action": str, "target": str})
        self.action = ""
        self.target = ""


class ACKMessage(Message):
    """ACK of message `ack`."""

    ident = "ACK"

    def __init__(self, ackid=0):
        Message.__init__(self)
        self.attr.update({"ack": int})
        self.ack = ackid


class ErrorMessage(Message):
    """ERR with a `reason`."""

    ident = "ERR"

    def __init__(self, err=""):
        Message.__init__(self)
        self.attr.update({"reason": str})
        self.reason = err


class StdOutMessage(RoutedMessageBase):
    """OUT: lines (payload: bytes) printed by `nodes`."""

    ident = "OUT"
    has_payload = True

    def __init__(self, nodes="", output=None, srcid=0):
        RoutedMessageBase.__init__(self, srcid)
        self.attr.update({"nodes": str})
        self.nodes = nodes
        self.data = None
        if output is not None:
            self.data_encode(output)


class StdErrMessage(StdOutMessage):
    """SER: stderr lines of `nodes`."""

    ident = "SER"


class RetcodeMessage(RoutedMessageBase):
    """RET: return code `retcode` of `nodes`."""

    ident = "RET"

    def __init__(self, nodes="", retcode=0, srcid=0):
        RoutedMessageBase.__init__(self, srcid)
        self.attr.update({"retcode": int, "nodes": str})
        self.retcode = retcode
        self.nodes = nodes


class TimeoutMessage(RoutedMessageBase):
    """TIM: `nodes` timed out."""

    ident = "TIM"

    def __init__(self, nodes="", srcid=0):
        RoutedMessageBase.__init__(self, srcid)
        self.attr.update({"nodes": str})
        self.nodes = nodes


class RoutingMessage(RoutedMessageBase):
    """RTR: a routing event (re-routing of `targets` off `gateway`)."""

    ident = "RTR"

    def __init__(self, event="", gateway="", targets="", srcid=0):
        RoutedMessageBase.__init__(self, srcid)
        self.attr.update({"event": str, "gateway": str, "targets": str})
        self.event = event
        self.gateway = gateway
        self.targets = targets


class StartMessage(Message):
    """The channel opened (``<channel>``)."""

    ident = "CHA"


class EndMessage(Message):
    """The channel ended (``</channel>``)."""

    ident = "END"


_MESSAGE_TYPES = {cls.ident: cls for cls in (
    ConfigurationMessage, ControlMessage, ACKMessage, ErrorMessage, StdOutMessage,
    StdErrMessage, RetcodeMessage, TimeoutMessage, RoutingMessage)}
