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
                    let child = be32(cell(i)?, 0).ok_or_else(|| {
                        bad(format!("{table}: page {n}: cell {i} truncated"))
                    })?;
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
            let mut next = be32(local_bytes, local).ok_or_else(|| at("overflow pointer truncated"))?;
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
                    bad(format!("sqlite_schema: table {name}: root page {root:?} is invalid"))
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
    let unquote = |t: &str| {
        t.trim_matches(|c| matches!(c, '\'' | '"' | '`' | '[' | ']'))
            .to_string()
    };
    defs.iter()
        .filter_map(|def| {
            let words: Vec<String> = def
                .split_whitespace()
                .map(|w| unquote(w).to_ascii_uppercase())
                .collect();
            let first = words.first()?;
            if ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"].contains(&first.as_str()) {
                return None;
            }
            let pk = words.windows(2).position(|w| w[0] == "PRIMARY" && w[1] == "KEY");
            let rowid_alias = words.get(1).is_some_and(|t| t == "INTEGER")
                && pk.is_some_and(|p| words.get(p + 2).is_none_or(|w| w != "DESC"));
            Some(Column {
                name: unquote(def.split_whitespace().next()?),
                rowid_alias,
            })
        })
        .collect()
}
