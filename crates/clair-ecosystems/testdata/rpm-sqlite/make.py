"""Builds the SQLite fixtures of rpm/sqlite_file tests (run once; the outputs are committed).

Each row's blob is `blob(hnum, len)`: hnum as 4 big-endian bytes, then (hnum*31 + j*7) % 256 for
byte j. The tests recompute the blobs from the same rule. Usage: python3 make.py (needs zstd).
"""
import os, random, sqlite3, subprocess

SCHEMA = "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"

def blob(h, n):
    return h.to_bytes(4, "big") + bytes((h * 31 + j * 7) % 256 for j in range(n - 4))

def build(name, page_size, rows, wal=False):
    path = name + ".sqlite"
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA page_size={page_size}")
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute(SCHEMA)
    db.execute("CREATE TABLE IF NOT EXISTS 'Name' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))")
    rows = list(rows)
    random.Random(7).shuffle(rows)
    for h, n in rows:
        db.execute("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", (h, blob(h, n)))
        db.execute("INSERT INTO Name VALUES (?, ?, 0)", (f"pkg{h}", h))
    db.commit()
    db.close()
    subprocess.run(["zstd", "-q", "-19", "-f", "--rm", path], check=True)

# 512-byte pages: 1,500 rows make a three-level table b-tree; every 100th blob spans overflow pages.
build("page512", 512, [(3 * i, 4000 + i if i % 100 == 0 else 4 + i % 17) for i in range(1, 1501)])
# 65536-byte pages (header value 1): a 200,000-byte blob spans three overflow pages.
build("page65536", 65536, [(1, 10), (2, 200_000), (5, 70_000)])
# Last written in WAL mode (header bytes 18 and 19 are 2), read without its -wal file.
build("wal", 1024, [(i, 50 * i) for i in range(1, 41)], wal=True)
