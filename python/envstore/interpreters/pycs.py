"""How a store .pyc is written, as source text for scripts that run inside a *target*
interpreter (CPython 3.6+, stdlib only, no syntax newer than 3.6). Owns the one rule every
pyc in the store follows; never touches a file outside the paths its callers pass.

CPython 3.7+ gets an unchecked hash-based pyc (PEP 552): valid whatever the file's mtime.
3.6 has no hash-based pycs, so it gets a timestamp pyc recording mtime 1 and the source's
size: every blob, and every hardlink or fallback copy of one, has mtime 1 (blob.rs,
link.rs), so that header is exactly what 3.6's import system checks and finds valid, in
every prefix that links the source. The bytes equal what py_compile writes on 3.7+."""

from __future__ import annotations

# Defines: HEADER (header length), header(source), valid(data, source, st) -> bool,
# refile(code, name), compile_to(src, cfile, dfile, level) (raises on a syntax error).
# On 3.7+ compile_to is py_compile itself, so the bytes stay exactly what they always were.
PYC_FUNCTIONS = r"""
import marshal, os, py_compile, sys, types
from importlib.util import MAGIC_NUMBER, cache_from_source
HASHED = sys.version_info >= (3, 7)
if HASHED:
    from importlib.util import source_hash
HEADER = 16 if HASHED else 12
STORE_MTIME = 1  # the mtime of every store file (blob.rs: blob_times)

def _u32(data, at):
    return int.from_bytes(data[at:at + 4], "little")

def header(source):
    if HASHED:  # unchecked hash-based (PEP 552)
        return MAGIC_NUMBER + (1).to_bytes(4, "little") + source_hash(source)
    return MAGIC_NUMBER + STORE_MTIME.to_bytes(4, "little") + (len(source) & 0xFFFFFFFF).to_bytes(4, "little")

def valid(data, source, st):
    # The import system's own check of a pyc against its source (stat `st`, bytes `source`).
    if len(data) < HEADER or data[:4] != MAGIC_NUMBER:
        return False
    if not HASHED:
        return _u32(data, 4) == int(st.st_mtime) & 0xFFFFFFFF and _u32(data, 8) == st.st_size & 0xFFFFFFFF
    flags = _u32(data, 4)
    if flags == 0:
        return _u32(data, 8) == int(st.st_mtime) & 0xFFFFFFFF and _u32(data, 12) == st.st_size & 0xFFFFFFFF
    return flags in (1, 3) and data[8:16] == source_hash(source)

def refile(code, name):
    # The same code with co_filename = name, nested code objects too.
    consts = tuple(refile(c, name) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    if hasattr(code, "replace"):
        return code.replace(co_filename=name, co_consts=consts)
    return types.CodeType(  # the 3.6/3.7 constructor
        code.co_argcount, code.co_kwonlyargcount, code.co_nlocals, code.co_stacksize, code.co_flags,
        code.co_code, consts, code.co_names, code.co_varnames, name, code.co_name, code.co_firstlineno,
        code.co_lnotab, code.co_freevars, code.co_cellvars)

def compile_to(src, cfile, dfile, level):
    if HASHED:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True, optimize=level,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return
    with open(src, "rb") as f:
        source = f.read()
    code = compile(source, dfile, "exec", dont_inherit=True, optimize=level)  # as py_compile does
    os.makedirs(os.path.dirname(cfile), exist_ok=True)
    with open(cfile, "wb") as f:
        f.write(header(source) + marshal.dumps(code))
"""
