//! Maven versions, ordered as Maven 3.9's `ComparableVersion` (the "version order
//! specification" OSV and the GitHub advisory database use): numbers and qualifiers in nested
//! lists, `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
//! unknown qualifiers after `sp` in lexical order, trailing zeros and release qualifiers
//! dropped.
//!
//! Every string is a version: like Maven, this never fails.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// A number as a digit string without leading zeros (`""` is 0).
    Int(String),
    /// A qualifier, aliases resolved (`ga`, `final`, `release` → `""`; `cr` → `rc`).
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// `StringItem.comparableQualifier`: a sortable key.
fn comparable(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let v = match value {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        v => v,
    };
    Item::Str(v.to_string())
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        Item::Int(buf.trim_start_matches('0').to_string())
    } else {
        string_item(buf, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_empty(),
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    /// `compareTo(null)`: against "nothing more".
    fn cmp_none(&self) -> Ordering {
        match self {
            Item::Int(n) => {
                if n.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Str(s) => comparable(s).as_str().cmp("5"),
            Item::List(l) => l
                .iter()
                .map(Item::cmp_none)
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
        }
    }

    fn cmp_item(&self, o: &Item) -> Ordering {
        match (self, o) {
            (Item::Int(a), Item::Int(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), _) => Ordering::Greater,
            (Item::Str(_), Item::Int(_)) => Ordering::Less,
            (Item::Str(a), Item::Str(b)) => comparable(a).cmp(&comparable(b)),
            (Item::Str(_), Item::List(_)) => Ordering::Less,
            (Item::List(_), Item::Int(_)) => Ordering::Less,
            (Item::List(_), Item::Str(_)) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for k in 0..a.len().max(b.len()) {
        let c = match (a.get(k), b.get(k)) {
            (Some(l), Some(r)) => l.cmp_item(r),
            (Some(l), None) => l.cmp_none(),
            (None, Some(r)) => r.cmp_none().reverse(),
            (None, None) => Ordering::Equal,
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// A parsed Maven version.
#[derive(Clone, Debug)]
pub struct Version {
    items: Vec<Item>,
}

/// The lists being built: the root first, the one being filled last. Once a sub-list is
/// opened its parent never grows again, so each list is folded into its parent at the end.
struct Builder {
    stack: Vec<Vec<Item>>,
}

impl Builder {
    fn current(&mut self) -> &mut Vec<Item> {
        if self.stack.is_empty() {
            self.stack.push(Vec::new());
        }
        let n = self.stack.len() - 1;
        &mut self.stack[n]
    }
    fn add(&mut self, item: Item) {
        self.current().push(item);
    }
    fn open_list(&mut self) {
        self.stack.push(Vec::new());
    }
    /// Fold and normalise (`ListItem.normalize`), innermost lists first.
    fn finish(mut self) -> Vec<Item> {
        while self.stack.len() > 1 {
            let mut child = self.stack.pop().unwrap_or_default();
            normalize(&mut child);
            self.current().push(Item::List(child));
        }
        let mut root = self.stack.pop().unwrap_or_default();
        normalize(&mut root);
        root
    }
}

fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

impl Version {
    /// Parse a version as `ComparableVersion.parseVersion` does.
    pub fn parse(version: &str) -> Version {
        let v = version.to_lowercase();
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        let mut b = Builder {
            stack: vec![Vec::new()],
        };
        let mut is_digit = false;
        let mut start = 0usize; // byte offset
        for &(i, c) in &chars {
            if c == '.' || c == '-' {
                if i == start {
                    b.add(Item::Int(String::new()));
                } else {
                    b.add(parse_item(is_digit, &v[start..i]));
                }
                start = i + 1;
                if c == '-' {
                    b.open_list();
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // 1.0.0.X1 < 1.0.0-X2: treat .X as -X.
                    if !b.current().is_empty() {
                        b.open_list();
                    }
                    b.add(string_item(&v[start..i], true));
                    start = i;
                    b.open_list();
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    b.add(parse_item(true, &v[start..i]));
                    start = i;
                    b.open_list();
                }
                is_digit = false;
            }
        }
        if v.len() > start {
            if !is_digit && !b.current().is_empty() {
                b.open_list();
            }
            b.add(parse_item(is_digit, &v[start..]));
        }
        Version { items: b.finish() }
    }

    /// Maven's canonical form (`ComparableVersion.getCanonical`).
    pub fn canonical(&self) -> String {
        fn write(list: &[Item], out: &mut String) {
            for (k, item) in list.iter().enumerate() {
                if k > 0 {
                    out.push(if matches!(item, Item::List(_)) {
                        '-'
                    } else {
                        '.'
                    });
                }
                match item {
                    Item::Int(n) if n.is_empty() => out.push('0'),
                    Item::Int(n) | Item::Str(n) => out.push_str(n),
                    Item::List(l) => write(l, out),
                }
            }
        }
        let mut s = String::new();
        write(&self.items, &mut s);
        s
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        cmp_lists(&self.items, &o.items)
    }
}

eq_by_order!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        // From ComparableVersionTest.testParseVersion/ canonical expectations (Maven 3.9).
        for (v, c) in [
            ("1", "1"),
            ("1.0", "1"),
            ("1-0", "1"),
            ("1.0.1", "1.0.1"),
            ("1-1", "1-1"),
            ("1ga", "1"),
            ("1-alpha-1", "1-alpha-1"),
            ("1a1", "1-alpha-1"),
            ("1.0-SNAPSHOT", "1-snapshot"),
        ] {
            assert_eq!(Version::parse(v).canonical(), c, "{v}");
        }
    }
}
