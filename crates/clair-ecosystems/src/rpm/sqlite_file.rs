//! A read-only reader of the SQLite database file format: enough to list one table's rows.
//!
//! Why hand-written: rpm ≥ 4.16 keeps its database in SQLite, and the `rpmdb.sqlite` of a
//! container image is hostile input. Opening it with SQLite's C library would run a large C
//! parser (and an SQL engine) on attacker-chosen bytes, and would put a database driver under the
//! otherwise pure ecosystems crate. Reading rows needs a small part of the format
//! (<https://www.sqlite.org/fileformat2.html>): the 100-byte header, table b-trees, records and
//! overflow chains. The journal is never read: a WAL-mode database copied without its `-wal` file
//! reads as its main file, as `sqlite3` itself reads it.
//!
//! Bounds: every page number is checked against the file's length; every page is read at most once
//! (a page reached twice — a b-tree or overflow cycle — is an error); the b-tree is at most
//! [`MAX_DEPTH`] levels deep (SQLite's own limit); the rows returned add up to at most the file's
//! length (overlapping cells cannot multiply it); nothing is allocated by a size the file claims
//! beyond the file's own length.

use super::RpmError;

/// The first 16 bytes of every SQLite database.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The deepest table b-tree read (SQLite's `BTCURSOR_MAX_DEPTH`).
pub const MAX_DEPTH: usize = 20;
/// Page types of table b-trees.
const TABLE_INTERIOR: u8 = 0x05;
const TABLE_LEAF: u8 = 0x0d;

fn bad(msg: String) -> RpmError {
    RpmError::Sqlite(msg)
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A SQLite varint: its value and length in bytes, or `None` if `b` ends inside it.
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// One value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Float(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl Value<'_> {
    /// The storage class, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "INTEGER",
            Value::Float(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Blob(_) => "BLOB",
        }
    }
}

/// The values of a record (a row's payload): a header of serial types, then their bodies.
pub fn record(payload: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (hlen, mut pos) = varint(payload).ok_or("record header length truncated")?;
    let hlen = usize::try_from(hlen)
        .ok()
        .filter(|&h| h >= pos && h <= payload.len())
        .ok_or_else(|| format!("record header length {hlen} outside the payload"))?;
    let mut body = hlen;
    let mut out = Vec::new();
    while pos < hlen {
        let (t, k) = varint(&payload[pos..hlen]).ok_or("record serial type truncated")?;
        pos += k;
        let size: u64 = match t {
            0 | 8 | 9 => 0,
            1..=4 => t,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(format!("reserved serial type {t}")),
            n => (n - 12) / 2,
        };
        let bytes = usize::try_from(size)
            .ok()
            .and_then(|s| payload.get(body..body.checked_add(s)?))
            .ok_or_else(|| format!("value of serial type {t} runs past the record's end"))?;
        body += bytes.len();
        out.push(match t {
            0 => Value::Null,
            8 => Value::Integer(0),
            9 => Value::Integer(1),
            1..=6 => {
                // Big-endian two's complement of 1 to 8 bytes, sign-extended.
                let mut v: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
                for &b in bytes {
                    v = (v << 8) | i64::from(b);
                }
                Value::Integer(v)
            }
            7 => {
                let raw: [u8; 8] = bytes.try_into().map_err(|_| "float size")?;
                Value::Float(f64::from_be_bytes(raw))
            }
            n if n % 2 == 0 => Value::Blob(bytes),
            _ => Value::Text(bytes),
        });
    }
    Ok(out)
}

/// A table found in the schema.
#[derive(Debug, Clone)]
pub struct Table {
    /// Root page of its b-tree.
    pub root: u32,
    /// Its `CREATE TABLE` statement.
    pub sql: String,
}

/// A column of a `CREATE TABLE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name, unquoted.
    pub name: String,
    /// `INTEGER PRIMARY KEY`: the column is the rowid, its record value NULL.
    pub rowid_alias: bool,
}

/// An open database file.
#[derive(Debug)]
pub struct Database<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
    pages: u32,
    visited: Vec<bool>,
    /// Payload bytes handed out so far; at most `data.len()`.
    returned: usize,
}

impl<'a> Database<'a> {
    /// Reads the 100-byte header.
    pub fn open(data: &'a [u8]) -> Result<Self, RpmError> {
        if !data.starts_with(MAGIC) {
            return Err(bad("not a SQLite database (magic)".into()));
        }
        if data.len() < 100 {
            return Err(bad(format!(
                "file of {} bytes is shorter than the 100-byte header",
                data.len()
            )));
        }
        let raw = be16(data, 16).unwrap_or(0);
        let page_size = if raw == 1 { 65536 } else { raw };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(bad(format!("header: page size {raw} is invalid")));
        }
        let usable = page_size - usize::from(data[20]);
        if usable < 480 {
            return Err(bad(format!(
                "header: {} reserved bytes leave {usable} usable bytes a page (at least 480)",
                data[20]
            )));
        }
        let pages = u32::try_from(data.len() / page_size).unwrap_or(u32::MAX);
        Ok(Database {
            data,
            page_size,
            usable,
            pages,
            visited: vec![false; pages as usize + 1],
            returned: 0,
        })
    }

    /// Page `n` (1-based) up to its usable size; each page is handed out once.
    fn page(&mut self, n: u32, what: &str) -> Result<&'a [u8], RpmError> {
        if n == 0 || n > self.pages {
            return Err(bad(format!(
                "{what}: page {n} is past the end of the file ({} pages of {} bytes)",
                self.pages, self.page_size
            )));
        }
        let seen = &mut self.visited[n as usize];
        if *seen {
            return Err(bad(format!("{what}: page {n} reached twice (a cycle)")));
        }
        *seen = true;
        let start = (n as usize - 1) * self.page_size;
        self.data
            .get(start..start + self.usable)
            .ok_or_else(|| bad(format!("{what}: page {n} is truncated")))
    }

    /// Calls `row` with the payload of every row of the table b-tree rooted at `root`, in
    /// rowid order.
    pub fn table_rows(
        &mut self,
        root: u32,
        table: &str,
        mut row: impl FnMut(Vec<u8>) -> Result<(), RpmError>,
    ) -> Result<(), RpmError> {
        // Pages still to read, last to read first; each with its depth.
        let mut todo = vec![(root, 1usize)];
        while let Some((n, depth)) = todo.pop() {
            if depth > MAX_DEPTH {
                return Err(bad(format!(
                    "{table}: b-tree deeper than {MAX_DEPTH} levels at page {n}"
                )));
            }
            let page = self.page(n, table)?;
            let hdr = if n == 1 { 100 } else { 0 };
            let short = || bad(format!("{table}: page {n}: b-tree header truncated"));
            let kind = *page.get(hdr).ok_or_else(short)?;
            let cells = be16(page, hdr + 3).ok_or_else(short)?;
            let ptrs = match kind {
                TABLE_LEAF => hdr + 8,
                TABLE_INTERIOR => hdr + 12,
                other => {
                    return Err(bad(format!(
                        "{table}: page {n} is not a table b-tree page (type {other:#04x})"
                    )));
                }
            };
            if ptrs + 2 * cells > page.len() {
                return Err(bad(format!(
                    "{table}: page {n}: {cells} cell pointers overrun the page"
                )));
            }
            let cell = |i: usize| -> Result<&'a [u8], RpmError> {
                be16(page, ptrs + 2 * i)
                    .filter(|&off| off >= ptrs + 2 * cells)
                    .and_then(|off| page.get(off..))
                    .ok_or_else(|| bad(format!("{table}: page {n}: cell {i} outside the page")))
            };
            if kind == TABLE_INTERIOR {
                let right = be32(page, hdr + 8).ok_or_else(short)?;
                todo.push((right, depth + 1));
                for i in (0..cells).rev() {
                    let child = be32(cell(i)?, 0)
                        .ok_or_else(|| bad(format!("{table}: page {n}: cell {i} truncated")))?;
                    todo.push((child, depth + 1));
                }
                continue;
            }
            for i in 0..cells {
                let payload = self.payload(cell(i)?, table, n, i)?;
                row(payload)?;
            }
        }
        Ok(())
    }

    /// The whole payload of a table leaf cell: its local part and its overflow chain.
    fn payload(&mut self, cell: &[u8], table: &str, n: u32, i: usize) -> Result<Vec<u8>, RpmError> {
        let at = |what: &str| bad(format!("{table}: page {n}: cell {i}: {what}"));
        let (size, k1) = varint(cell).ok_or_else(|| at("payload size truncated"))?;
        let (_rowid, k2) = varint(&cell[k1..]).ok_or_else(|| at("rowid truncated"))?;
        let local_bytes = &cell[k1 + k2..];
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= self.data.len() - self.returned)
            .ok_or_else(|| {
                at(&format!(
                    "payload of {size} bytes: the rows add up to more than the file's {} bytes",
                    self.data.len()
                ))
            })?;
        self.returned += size;
        // How much of the payload is on the page (fileformat2 §1.6, table b-tree leaf cells).
        let u = self.usable;
        let x = u - 35;
        let local = if size <= x {
            size
        } else {
            let m = (u - 12) * 32 / 255 - 23;
            let k = m + (size - m) % (u - 4);
            if k <= x { k } else { m }
        };
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(
            local_bytes
                .get(..local)
                .ok_or_else(|| at("payload runs past the page"))?,
        );
        if local < size {
            let mut next =
                be32(local_bytes, local).ok_or_else(|| at("overflow pointer truncated"))?;
            let what = format!("{table}: overflow chain of page {n} cell {i}");
            while out.len() < size {
                let page = self.page(next, &what)?;
                let take = (size - out.len()).min(u - 4);
                out.extend_from_slice(&page[4..4 + take]);
                next = be32(page, 0).unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// The table called `name` in the schema (`sqlite_schema`, rooted at page 1), if any.
    pub fn table(&mut self, name: &str) -> Result<Option<Table>, RpmError> {
        let mut found = None;
        self.table_rows(1, "sqlite_schema", |payload| {
            let values = record(&payload).map_err(|e| bad(format!("sqlite_schema: {e}")))?;
            if let [Value::Text(b"table"), Value::Text(n), _, root, sql, ..] = &values[..]
                && *n == name.as_bytes()
                && found.is_none()
            {
                let root = match root {
                    Value::Integer(r) => u32::try_from(*r).ok(),
                    _ => None,
                }
                .ok_or_else(|| {
                    bad(format!(
                        "sqlite_schema: table {name}: root page {root:?} is invalid"
                    ))
                })?;
                let sql = match sql {
                    Value::Text(s) => String::from_utf8_lossy(s).into_owned(),
                    _ => String::new(),
                };
                found = Some(Table { root, sql });
            }
            Ok(())
        })?;
        Ok(found)
    }
}

/// The columns of a `CREATE TABLE name (col type constraints, ..., table constraints)` statement,
/// in record order.
pub fn columns(sql: &str) -> Vec<Column> {
    // Split the text between the outermost parentheses at top-level commas, minding quotes.
    let mut defs = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            if depth > 0 {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '[' => quote = Some(']'),
            '(' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    defs.push(std::mem::take(&mut cur));
                    break;
                }
            }
            ',' if depth == 1 => {
                defs.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        if depth > 0 {
            cur.push(c);
        }
    }
    defs.iter()
        .filter_map(|def| {
            let def = def.trim_start();
            // The name: a quoted identifier (which may hold spaces) or the first word.
            let (name, rest) = match def.chars().next()? {
                q @ ('\'' | '"' | '`' | '[') => {
                    let close = if q == '[' { ']' } else { q };
                    let end = def[1..].find(close).map_or(def.len(), |e| e + 1);
                    (&def[1..end], def.get(end + 1..).unwrap_or(""))
                }
                _ => def.split_at(def.find(char::is_whitespace).unwrap_or(def.len())),
            };
            let words: Vec<String> = std::iter::once(name)
                .chain(rest.split_whitespace())
                .map(|w| {
                    w.trim_matches(|c| matches!(c, '\'' | '"' | '`' | '[' | ']'))
                        .to_ascii_uppercase()
                })
                .collect();
            let first = words.first()?;
            if ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"].contains(&first.as_str()) {
                return None;
            }
            let pk = words
                .windows(2)
                .position(|w| w[0] == "PRIMARY" && w[1] == "KEY");
            let rowid_alias = words.get(1).is_some_and(|t| t == "INTEGER")
                && pk.is_some_and(|p| words.get(p + 2).is_none_or(|w| w != "DESC"));
            Some(Column {
                name: name.to_string(),
                rowid_alias,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::rpm::sqlite::parse_sqlite;

    /// A fixture of testdata/rpm-sqlite/ (built by its make.py), decompressed.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/testdata/rpm-sqlite/{name}.sqlite.zst",
            env!("CARGO_MANIFEST_DIR")
        );
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        zstd::decode_all(&raw[..]).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// make.py's blob rule: hnum big-endian, then (hnum*31 + j*7) % 256.
    fn blob(h: u32, n: usize) -> Vec<u8> {
        let mut b = h.to_be_bytes().to_vec();
        b.extend((0..n - 4).map(|j| ((h as usize * 31 + j * 7) % 256) as u8));
        b
    }

    /// The blobs make.py wrote, in hnum order.
    fn expected(mut rows: Vec<(u32, usize)>) -> Vec<Vec<u8>> {
        rows.sort();
        rows.into_iter().map(|(h, n)| blob(h, n)).collect()
    }

    fn packages_root(data: &[u8]) -> u32 {
        let table = Database::open(data).unwrap().table("Packages").unwrap();
        table.expect("a Packages table").root
    }

    fn page_type(data: &[u8], page_size: usize, n: u32) -> u8 {
        data[(n as usize - 1) * page_size]
    }

    fn set_be32(data: &mut [u8], at: usize, v: u32) {
        data[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    fn sqlite_err(data: &[u8]) -> String {
        let start = Instant::now();
        let e = parse_sqlite(data).expect_err("hostile file read without error");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        e.to_string()
    }

    #[test]
    fn page_512_three_levels_and_overflow() {
        let data = fixture("page512");
        assert_eq!(&data[16..18], &[2, 0], "page size 512");
        let root = packages_root(&data);
        // The fixture exercises what it is for: interior pages two levels deep.
        assert_eq!(page_type(&data, 512, root), TABLE_INTERIOR);
        let right = u32::from_be_bytes(
            data[(root as usize - 1) * 512 + 8..][..4]
                .try_into()
                .unwrap(),
        );
        assert_eq!(page_type(&data, 512, right), TABLE_INTERIOR);
        let rows = (1..=1500)
            .map(|i| {
                (
                    3 * i,
                    if i % 100 == 0 {
                        4000 + i as usize
                    } else {
                        4 + i as usize % 17
                    },
                )
            })
            .collect();
        let got = parse_sqlite(&data).unwrap();
        assert_eq!(got.len(), 1500);
        assert!(
            got.iter().any(|b| b.len() > 5000),
            "a blob spans overflow pages"
        );
        assert!(
            got == expected(rows),
            "blobs differ from make.py's rule or order"
        );
    }

    #[test]
    fn page_65536() {
        let data = fixture("page65536");
        assert_eq!(&data[16..18], &[0, 1], "page size 65536 is stored as 1");
        let got = parse_sqlite(&data).unwrap();
        assert!(got == expected(vec![(1, 10), (2, 200_000), (5, 70_000)]));
    }

    #[test]
    fn wal_mode_file_reads_as_its_main_file() {
        let data = fixture("wal");
        assert_eq!(&data[18..20], &[2, 2], "written in WAL mode");
        let got = parse_sqlite(&data).unwrap();
        assert!(got == expected((1..=40).map(|i| (i, 50 * i as usize)).collect()));
    }

    #[test]
    fn hostile_files_fail_fast() {
        let data = fixture("page512");
        let root = packages_root(&data);
        let right = (root as usize - 1) * 512 + 8;
        let mut cycle = data.clone();
        set_be32(&mut cycle, right, root);
        let e = sqlite_err(&cycle);
        assert!(
            e.contains(&format!("Packages: page {root} reached twice")),
            "{e}"
        );

        let mut past = data.clone();
        set_be32(&mut past, right, 100_000);
        let e = sqlite_err(&past);
        assert!(
            e.contains("Packages: page 100000 is past the end of the file (270 pages"),
            "{e}"
        );

        // An overflow page with a successor (first byte 0: no b-tree page type) made to point at
        // itself.
        let pages = data.len() / 512;
        let p = (2..=pages as u32)
            .find(|&p| {
                let at = (p as usize - 1) * 512;
                let next = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
                data[at] == 0 && (2..=pages as u32).contains(&next)
            })
            .expect("an overflow chain of two pages or more");
        let mut looped = data.clone();
        set_be32(&mut looped, (p as usize - 1) * 512, p);
        let e = sqlite_err(&looped);
        assert!(
            e.contains("overflow chain") && e.contains(&format!("page {p} reached twice")),
            "{e}"
        );

        let e = sqlite_err(&data[..data.len() / 2]);
        assert!(e.contains("past the end of the file (135 pages"), "{e}");
        let e = sqlite_err(&data[..60]);
        assert!(e.contains("shorter than the 100-byte header"), "{e}");

        let mut huge_page = data.clone();
        huge_page[16..18].copy_from_slice(&[0x30, 0x00]);
        assert!(sqlite_err(&huge_page).contains("page size 12288 is invalid"));
        let mut reserved = data;
        reserved[20] = 100;
        assert!(sqlite_err(&reserved).contains("leave 412 usable bytes"));

        assert_eq!(
            sqlite_err(b"SQLite format 2\0"),
            "rpm sqlite: not a SQLite database (magic)"
        );
    }

    /// A file of `pages` 512-byte pages whose page 1 starts with `page1` after the header.
    fn handmade(pages: usize, page1: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; pages * 512];
        d[..16].copy_from_slice(MAGIC);
        d[16..18].copy_from_slice(&512u16.to_be_bytes());
        d[100..100 + page1.len()].copy_from_slice(page1);
        d
    }

    #[test]
    fn deep_trees_and_huge_claims_fail_fast() {
        // Interior pages without cells, each the right child of the one before: 30 levels.
        let mut deep = handmade(30, &[TABLE_INTERIOR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        for n in 2..30u32 {
            let at = (n as usize - 1) * 512;
            deep[at] = TABLE_INTERIOR;
            set_be32(&mut deep, at + 8, n + 1);
        }
        let e = sqlite_err(&deep);
        assert!(
            e.contains("sqlite_schema: b-tree deeper than 20 levels at page 21"),
            "{e}"
        );

        // A leaf cell claiming a payload of 2^63 bytes.
        let mut huge = handmade(1, &[TABLE_LEAF, 0, 0, 0, 1, 0, 0, 0, 0, 200]);
        huge[200..209].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let e = sqlite_err(&huge);
        assert!(
            e.contains("rows add up to more than the file's 512 bytes"),
            "{e}"
        );

        // Many cells pointing at one 300-byte local payload: the total is still bounded.
        let mut many = handmade(1, &[TABLE_LEAF, 0, 0, 0, 40]);
        for i in 0..40 {
            many[108 + 2 * i..110 + 2 * i].copy_from_slice(&200u16.to_be_bytes());
        }
        many[200..204].copy_from_slice(&[0x82, 0x2c, 1, 1]); // payload 300, rowid 1, no columns
        let e = sqlite_err(&many);
        assert!(
            e.contains(
                "cell 1: payload of 300 bytes: the rows add up to more than the file's 512 bytes"
            ),
            "{e}"
        );

        // An empty schema: no Packages table.
        let empty = handmade(1, &[TABLE_LEAF, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            sqlite_err(&empty),
            "rpm sqlite: no Packages table: not an rpmdb"
        );
    }

    #[test]
    fn records() {
        // Header: length 7, NULL, 1-byte int, float, 3-byte text, 2-byte blob, 6-byte int.
        let mut r = vec![7, 0, 1, 7, 13 + 6, 12 + 4, 5];
        r.push(0xfe);
        r.extend(1.5f64.to_be_bytes());
        r.extend(b"abc");
        r.extend([9, 8]);
        r.extend([0x80, 0, 0, 0, 0, 1]);
        assert_eq!(
            record(&r).unwrap(),
            vec![
                Value::Null,
                Value::Integer(-2),
                Value::Float(1.5),
                Value::Text(b"abc"),
                Value::Blob(&[9, 8]),
                Value::Integer(-(1 << 47) + 1),
            ]
        );
        assert_eq!(record(&[2, 10]).unwrap_err(), "reserved serial type 10");
        assert_eq!(
            record(&[2, 16, 1]).unwrap_err(),
            "value of serial type 16 runs past the record's end"
        );
        assert_eq!(
            record(&[9, 0]).unwrap_err(),
            "record header length 9 outside the payload"
        );
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None);
    }

    #[test]
    fn create_table_columns() {
        let col = |name: &str, rowid_alias| Column {
            name: name.into(),
            rowid_alias,
        };
        assert_eq!(
            columns(
                "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"
            ),
            vec![col("hnum", true), col("blob", false)]
        );
        assert_eq!(
            columns(
                "CREATE TABLE \"t(1,2)\" ([a b] DECIMAL(10,2) DEFAULT 'x,)', \"hnum\" integer primary key desc, \
                 c, PRIMARY KEY (c), FOREIGN KEY (c) REFERENCES u(c))"
            ),
            vec![col("a b", false), col("hnum", false), col("c", false)]
        );
    }
}
