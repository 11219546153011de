"""Command-line tools: clush, cluset/nodeset and clubak, and the modules
they share (Display, Config, OptionParser, Utils, Error)."""
