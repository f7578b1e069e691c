"""OSV IsVulnerable over PyPA packaging (see README.md for the protocol)."""
import sys

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


class Undecided(Exception):
    pass


def parse(v):
    try:
        return Version(v)
    except InvalidVersion as e:
        raise Undecided(v) from e


def valid(v):
    try:
        Version(v)
        return True
    except InvalidVersion:
        return False


def included(v, events):
    for kind, x in (e for e in events if e[0] == "limit"):
        if "*" in x or parse(v) < parse(x):
            break
    else:
        if any(e[0] == "limit" for e in events):
            return False
    rest = [e for e in events if e[0] != "limit"]
    keys = [(0, 0) if e == ("introduced", "0") else (1, parse(e[1])) for e in rest]
    order = sorted(range(len(rest)), key=lambda i: keys[i])
    vulnerable = False
    for i in order:
        kind, x = rest[i]
        if kind == "introduced":
            if x == "0" or parse(v) >= parse(x):
                vulnerable = True
        elif kind == "fixed":
            if parse(v) >= parse(x):
                vulnerable = False
        elif kind == "last_affected":
            if parse(v) > parse(x):
                vulnerable = False
    return vulnerable


def answer(record, name, v):
    undecided = False
    for pkg, ranges, versions in record:
        if canonicalize_name(pkg) != canonicalize_name(name):
            continue
        if any(v == x or (valid(v) and valid(x) and Version(v) == Version(x)) for x in versions):
            return "1"
        for kind, events in ranges:
            if kind not in ("ECOSYSTEM", "SEMVER"):
                continue
            try:
                if included(v, events):
                    return "1"
            except Undecided:
                undecided = True
    return "u" if undecided else "0"


def main():
    record = []
    out = []
    for line in sys.stdin.read().split("\n"):
        if not line:
            continue
        f = line.split("\t")
        if f[0] == "C":
            record = []
        elif f[0] == "A":
            record.append((f[1], [], []))
        elif f[0] == "T":
            record[-1][1].append((f[1], []))
        elif f[0] == "E":
            record[-1][1][-1][1].append((f[1], f[2]))
        elif f[0] == "V":
            record[-1][2].append(f[1])
        elif f[0] == "Q":
            out.append(answer(record, f[1], f[2]))
    sys.stdout.write("\n".join(out) + "\n")


main()
