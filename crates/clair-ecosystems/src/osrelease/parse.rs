//! Pure parsers for release files (no I/O; fuzzed).

use std::collections::BTreeMap;

/// Parse os-release(5) contents: `KEY=value` lines, values optionally single- or double-quoted,
/// backslash escapes inside double quotes, `#` comments, CRLF line ends. Lines that are not
/// assignments are ignored; invalid UTF-8 is replaced. At most 64 KiB are read.
pub fn parse_os_release(data: &[u8]) -> BTreeMap<String, String> {
    parse_key_values(data)
}

/// The shell-like `KEY=value` format shared by os-release and lsb-release.
pub fn parse_key_values(data: &[u8]) -> BTreeMap<String, String> {
    let data = &data[..data.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(data);
    let mut out = BTreeMap::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        out.insert(k.to_string(), unquote(v.trim()));
    }
    out
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('"') {
        let mut s = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                c => s.push(c),
            }
        }
        s
    } else if let Some(inner) = v.strip_prefix('\'') {
        inner.split('\'').next().unwrap_or("").to_string()
    } else {
        // Unquoted: up to an unescaped comment or the end.
        v.split(" #").next().unwrap_or("").trim().to_string()
    }
}

/// A "<Name> release <version> (<code name>)" line, as in redhat-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseLine {
    /// "Red Hat Enterprise Linux Server"
    pub name: String,
    /// "7.9"
    pub version: String,
    /// "Maipo"
    pub code_name: Option<String>,
}

/// Parse the first line of a vendor release file.
pub fn parse_release_line(text: &str) -> Option<ReleaseLine> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let rest = rest.trim();
    let version: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '(')
        .collect();
    if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let code_name = rest
        .split_once('(')
        .and_then(|(_, r)| r.split(')').next())
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    Some(ReleaseLine {
        name: name.trim().to_string(),
        version,
        code_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quoting() {
        let kv = parse_os_release(
            b"# comment\nNAME=\"Debian GNU/Linux\"\r\nID=debian\nX='single quoted'\n\
              ESC=\"a \\\"quoted\\\" \\\\ word\"\n  SPACED = 1 \nbogus line\n=novalue\nBAD KEY=x\nC=val # comment\n",
        );
        assert_eq!(kv["NAME"], "Debian GNU/Linux");
        assert_eq!(kv["ID"], "debian");
        assert_eq!(kv["X"], "single quoted");
        assert_eq!(kv["ESC"], "a \"quoted\" \\ word");
        assert_eq!(kv["SPACED"], "1");
        assert_eq!(kv["C"], "val");
        assert!(!kv.contains_key("BAD KEY") && !kv.contains_key(""));
        // Invalid UTF-8 and binary junk: no panic.
        let kv = parse_os_release(b"ID=\xff\xfe\nNAME=\"unterminated\n\0\0\0");
        assert_eq!(kv["NAME"], "unterminated");
        assert!(parse_os_release(b"").is_empty());
    }

    #[test]
    fn release_lines() {
        assert_eq!(
            parse_release_line("Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"),
            Some(ReleaseLine {
                name: "Red Hat Enterprise Linux Server".into(),
                version: "7.9".into(),
                code_name: Some("Maipo".into())
            })
        );
        let l = parse_release_line("Red Hat Enterprise Linux CoreOS release 4.12").unwrap();
        assert_eq!((l.version.as_str(), l.code_name), ("4.12", None));
        assert_eq!(parse_release_line("no release here"), None);
        assert_eq!(parse_release_line("X release (y)"), None);
        assert_eq!(parse_release_line(""), None);
    }
}
