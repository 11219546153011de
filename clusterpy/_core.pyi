# Type stub of the compiled cffi module (built from csrc/ by _build_core.py):
# cffi objects are dynamic, so both are Any to the type checker.
from typing import Any

ffi: Any
lib: Any
