//! Debian control-file paragraphs (deb822), as dpkg writes its status database.

/// One paragraph: fields in order, with the line it starts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    /// 1-based line number of the paragraph's first field.
    pub line: usize,
    /// `(name, value)`; continuation lines are joined with `\n`.
    pub fields: Vec<(String, String)>,
}

impl Paragraph {
    /// The value of a field; names compare case-insensitively, as in deb822.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Split a control file into paragraphs. Never fails: lines that are not fields become warnings.
///
/// Invalid UTF-8 is replaced (package names and versions are ASCII; descriptions need not be).
pub fn parse_paragraphs(data: &[u8]) -> (Vec<Paragraph>, Vec<String>) {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut cur = Paragraph::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let lineno = i + 1;
        if line.trim().is_empty() {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match cur.fields.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim_start());
                }
                None => warnings.push(format!(
                    "line {lineno}: continuation line outside a field, ignored"
                )),
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                if cur.fields.is_empty() {
                    cur.line = lineno;
                }
                cur.fields.push((k.to_string(), v.trim().to_string()));
            }
            _ => warnings.push(format!(
                "line {lineno}: not a \"Field: value\" line, ignored"
            )),
        }
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    (out, warnings)
}
