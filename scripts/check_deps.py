#!/usr/bin/env python3
"""Checks the dependency rule of docs/ARCHITECTURE.md against the code; ctest runs it (label unit).

The table in docs/ARCHITECTURE.md ("| folder | public headers | may use |") is the rule; "may
use" is transitive (bottom-up). This check fails, naming the file and line, when
  - a file in src/<A>/ includes a private header of another component ("B/x.h" with B != A),
  - a file in src/<A>/ includes a public header ("ragperf/x.h") of a component A may not use,
  - src/<A>/CMakeLists.txt links (DEPS) a component A may not use,
  - a public header is listed for no component, or for two.
A component without public headers (base) is internal: its headers under src/<B>/ are its
interface for the components that may use it. Public headers include only public headers
(include/ragperf/ is what users see). Tests (tests/<A>/) may use every public header, the headers
of internal components and the private headers of their own component A; bench/ and examples/
may use public headers and internal components' headers only (bench/ also its own files). The fuzz
harnesses (fuzz/) may include any header under src/ (a harness drives a parser where it lives)
and their own helpers beside them; nothing outside fuzz/ may include a file of fuzz/ or link one
of its targets (fuzz_*).

  python3 scripts/check_deps.py [REPO_ROOT]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
arch = root / "docs" / "ARCHITECTURE.md"
errors = []


def fail(where, what):
    errors.append(f"{where}: {what}")


# ---- the rule, from the table -------------------------------------------------------------
EVERY = "(every component)"  # the row of headers every component may include (error.h)
every_headers = set()
rows = {}
order = []
in_table = False
for line in arch.read_text(encoding="utf-8").splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
    if cells and cells[:3] == ["folder", "public headers", "may use"]:
        in_table = True
        continue
    if not in_table:
        continue
    if not cells:
        break
    if set(cells[0]) <= set("-: "):
        continue
    name = cells[0].strip("`")
    headers = {h.strip().strip("`") for h in cells[1].split(",") if h.strip() not in ("", "—", "-")}
    uses = cells[2]
    if name == EVERY:
        every_headers = headers
        continue
    if uses.startswith("everything above"):
        allowed = set(order)
    else:
        allowed = {u.strip().strip("`") for u in uses.split(",") if u.strip() not in ("", "—", "-")}
    rows[name] = (headers, allowed)
    order.append(name)
if not rows:
    print(f"check_deps: no '| folder | public headers | may use |' table in {arch}", file=sys.stderr)
    sys.exit(2)
for name, (_, allowed) in rows.items():
    for dep in allowed:
        if dep not in rows:
            fail(arch, f"component {name} may use '{dep}', which is not in the table")
        elif order.index(dep) >= order.index(name):
            fail(arch, f"component {name} may use {dep}, which is not above it (the table is ordered bottom-up)")

# "May use" is transitive: a component may use what the components it uses may use (retrieve's API
# hands out store types, so batch, which uses retrieve, sees them too).
changed = True
while changed:
    changed = False
    for name, (headers, allowed) in rows.items():
        closure = set(allowed)
        for dep in allowed:
            closure |= rows.get(dep, (set(), set()))[1]
        if closure != allowed:
            rows[name] = (headers, closure)
            changed = True

owner = {h: EVERY for h in every_headers}  # public header -> component
for name, (headers, _) in rows.items():
    for h in headers:
        if h in owner:
            fail(arch, f"public header {h} is listed for both {owner[h]} and {name}")
        owner[h] = name
for h in sorted(p.name for p in (root / "include" / "ragperf").glob("*.h")):
    if h not in owner:
        fail(arch, f"public header include/ragperf/{h} is listed for no component")
for h in owner:
    if not (root / "include" / "ragperf" / h).exists():
        fail(arch, f"public header {h} is listed but include/ragperf/{h} does not exist")

components = {p.name for p in (root / "src").iterdir() if p.is_dir()}
# Internal components (no public headers, like base): their headers under src/<B>/ are their
# interface for the components that may use them; users never see them.
internal = {name for name, (headers, _) in rows.items() if not headers and name != "cli"}
for c in sorted(components - set(rows)):
    fail(arch, f"src/{c}/ is not in the table")

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def includes(path):
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        m = INCLUDE.match(line)
        if m:
            yield n, m.group(1)


def check_public(where, comp, allowed, inc):
    h = inc.split("/", 1)[1]
    o = owner.get(h)
    if o is None:
        fail(where, f"includes {inc}, which is not a listed public header")
    elif o != comp and o != EVERY and o not in allowed and comp is not None:
        fail(where, f"includes {inc} (component {o}); {comp} may use only {', '.join(sorted(allowed)) or 'nothing'}")


# ---- src/<A>/ ------------------------------------------------------------------------------
for comp in sorted(components & set(rows)):
    allowed = rows[comp][1]
    for path in sorted((root / "src" / comp).rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        rel = path.relative_to(root)
        for n, inc in includes(path):
            where = f"{rel}:{n}"
            first = inc.split("/", 1)[0] if "/" in inc else None
            if first is None:
                if not (path.parent / inc).exists():
                    fail(where, f"includes {inc}, which is not beside it")
            elif first == "ragperf":
                check_public(where, comp, allowed, inc)
            elif first != comp and not (first in internal and first in allowed):
                fail(where, f"includes {inc}, a private header of {first if first in rows else 'another folder'}")
    cml = root / "src" / comp / "CMakeLists.txt"
    if cml.exists():
        text = cml.read_text(encoding="utf-8")
        for m in re.finditer(r"ragperf_component\(NAME\s+(\w+)(.*?)\)", text, re.S):
            deps = re.search(r"DEPS\s+((?:\w+\s*)+?)(?:LIBS|$)", m.group(2) + " LIBS")
            for dep in (deps.group(1).split() if deps else []):
                if dep not in allowed:
                    fail(f"{cml.relative_to(root)}", f"{comp} links {dep}, which the table does not allow")

# ---- public headers, tests, bench, examples ------------------------------------------------
for path in sorted((root / "include" / "ragperf").glob("*.h")):
    comp = owner.get(path.name)
    allowed = rows[comp][1] if comp in rows else set()
    if comp == EVERY:
        comp = None
    for n, inc in includes(path):
        where = f"{path.relative_to(root)}:{n}"
        if not inc.startswith("ragperf/"):
            fail(where, f"a public header includes {inc}, which users do not have")
        elif comp is not None:
            check_public(where, comp, allowed, inc)

for top in ("tests", "bench", "examples"):
    for path in sorted((root / top).rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        rel = path.relative_to(root)
        own = rel.parts[1] if top == "tests" and len(rel.parts) > 2 else None
        for n, inc in includes(path):
            where = f"{rel}:{n}"
            first = inc.split("/", 1)[0] if "/" in inc else None
            if first is None or first == "ragperf":
                continue
            if top == "tests" and (root / "tests" / inc).exists():
                continue  # a test helper (tests/ is on the tests' include path)
            if first == own or first in internal:
                continue
            fail(where, f"includes {inc}, a private header of {first}; use its public header")

# ---- fuzz/: depends on src/, nothing depends on it -------------------------------------------
for path in sorted((root / "fuzz").rglob("*")) if (root / "fuzz").is_dir() else []:
    if path.suffix not in (".h", ".cpp"):
        continue
    rel = path.relative_to(root)
    for n, inc in includes(path):
        if "/" not in inc:
            if not (path.parent / inc).exists():
                fail(f"{rel}:{n}", f"includes {inc}, which is not beside it")
        elif inc.startswith("ragperf/"):
            check_public(f"{rel}:{n}", None, set(), inc)
        elif not (root / "src" / inc).exists():
            fail(f"{rel}:{n}", f"includes {inc}, which is neither a public header nor under src/")
for top in ("src", "include", "tests", "bench", "examples", "python"):
    for path in sorted((root / top).rglob("*")) if (root / top).is_dir() else []:
        rel = path.relative_to(root)
        if path.suffix in (".h", ".cpp"):
            for n, inc in includes(path):
                if inc.startswith("fuzz/"):
                    fail(f"{rel}:{n}", f"includes {inc}; nothing may depend on fuzz/")
        elif path.name == "CMakeLists.txt" and re.search(r"\bfuzz_\w+", path.read_text(encoding="utf-8")):
            fail(f"{rel}", "names a fuzz_* target; nothing may depend on fuzz/")

if errors:
    print("check_deps: the code breaks the dependency rule of docs/ARCHITECTURE.md:", file=sys.stderr)
    for e in errors:
        print("  " + e, file=sys.stderr)
    sys.exit(1)
print(f"check_deps: {len(rows)} components follow docs/ARCHITECTURE.md")
