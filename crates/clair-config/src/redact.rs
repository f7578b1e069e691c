//! Secrets kept out of everything clair-rs prints: `clair config check`, error messages and
//! every log line.
//!
//! Two nets, because a secret can reach output in two shapes. By *form*: passwords in URLs
//! (`user:pass@`), in query strings (`?password=`, `&sslpassword=`, `&token=`, signed-URL
//! signatures) and in libpq strings (`password=…`, quoted or not) are recognised wherever they
//! appear. By *value*: every secret a loaded config holds (keys, PSKs, page-token keys,
//! webhook header values, database and AMQP passwords) is registered with [`register`], and
//! [`redact_text`] replaces each occurrence, whatever the text around it. The binary passes
//! its log writer and its error output through [`redact_text`].

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use serde_yaml_ng::Value;

/// What a secret becomes.
pub const REDACTED: &str = "<redacted>";

/// Shortest value registered as a secret (shorter ones would redact ordinary words).
const MIN_SECRET: usize = 6;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// `scheme://user:password@` (the password, up to the last `@` of the authority).
static USERINFO: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(r"(?i)([a-z][a-z0-9+.-]*://[^:@/?#\s'\x22]*):([^/?#\s'\x22]*)@")
        .unwrap_or_else(|e| unreachable!("{e}"))
});

/// `password=…` and friends in query strings and libpq strings: the name after a separator,
/// then the value, single-quoted (libpq, `\'` escapes) or up to a separator.
static NAMED: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(
        r"(?i)(^|[\s?&;,'\x22(])((?:ssl)?password|passwd|pwd|token|access_token|secret|client_secret|api_?key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|psk)(\s*[=:]\s*)('(?:[^'\\]|\\.)*'|[^\s&#'\x22,;)]+)",
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
});

/// Remember `secret` so [`redact_text`] hides it from now on (values shorter than six
/// characters are ignored).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    if let Ok(mut s) = SECRETS.write()
        && !s.iter().any(|x| x == secret)
    {
        s.push(secret.to_string());
        // Longest first, so a secret containing another is replaced whole.
        s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// `text` with every secret replaced by `<redacted>`: registered values and passwords in
/// URLs, query strings and libpq strings.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if let Ok(secrets) = SECRETS.read() {
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
    }
    if USERINFO.is_match(&out) {
        out = Cow::Owned(
            USERINFO
                .replace_all(&out, format!("$1:{REDACTED}@").as_str())
                .into_owned(),
        );
    }
    if NAMED.is_match(&out) {
        out = Cow::Owned(
            NAMED
                .replace_all(&out, format!("$1$2$3{REDACTED}").as_str())
                .into_owned(),
        );
    }
    out
}

/// Keys whose values are secrets wherever they appear in a config file.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['_', '-'], "");
    matches!(
        k.as_str(),
        "key"
            | "psk"
            | "password"
            | "sslpassword"
            | "secret"
            | "token"
            | "paginationkey"
            | "intraservice"
            | "secretaccesskey"
            | "sessiontoken"
            | "clientsecret"
    )
}

/// Keys whose values may carry a password inside (URLs, libpq strings).
fn source_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("source")
        || k.contains("connstring")
        || k.contains("uri")
        || k.contains("url")
        || k.contains("endpoint")
        || k.contains("target")
        || k.contains("callback")
        || k.contains("proxy")
        || k == "api"
        || k == "registry"
}

/// Every secret value in a config document: values of secret keys, every value under a
/// `headers` mapping, and the passwords inside URLs and connection strings.
pub fn secrets_in(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, None, false, &mut out);
    out
}

fn walk(v: &Value, key: Option<&str>, in_headers: bool, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let k = k.as_str();
                let headers = in_headers || k.is_some_and(|k| k.eq_ignore_ascii_case("headers"));
                walk(child, k, headers, out);
            }
        }
        Value::Sequence(s) => {
            for child in s {
                walk(child, key, in_headers, out);
            }
        }
        Value::Tagged(t) => walk(&t.value, key, in_headers, out),
        Value::String(s) => {
            if in_headers || key.is_some_and(secret_key) {
                out.push(s.clone());
            } else if key.is_some_and(source_key) {
                out.extend(passwords_in(s));
            }
        }
        Value::Number(n) if in_headers || key.is_some_and(secret_key) => out.push(n.to_string()),
        _ => {}
    }
}

/// The passwords written inside a URL or libpq string.
pub fn passwords_in(s: &str) -> Vec<String> {
    let mut out: Vec<String> = USERINFO
        .captures_iter(s)
        .filter_map(|c| c.get(2).map(|m| m.as_str().to_string()))
        .collect();
    out.extend(NAMED.captures_iter(s).filter_map(|c| {
        c.get(4)
            .map(|m| m.as_str().trim_matches('\'').replace("\\'", "'"))
    }));
    out.retain(|p| !p.is_empty() && p != REDACTED);
    out
}

/// Register every secret of a config document (when there is one) and of the environment
/// variables that override it (`CLAIR_DATABASE_SOURCE`, `CLAIR_API_PAGINATIONKEY`, …).
pub fn register_config(doc: Option<&Value>) {
    for s in doc.map(secrets_in).unwrap_or_default() {
        register(&s);
    }
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        if !upper.starts_with("CLAIR") {
            continue;
        }
        if ["KEY", "PASSWORD", "TOKEN", "SECRET", "PSK"]
            .iter()
            .any(|w| upper.ends_with(w))
        {
            register(&value);
        } else {
            for p in passwords_in(&value) {
                register(&p);
            }
        }
    }
}

/// Redact a JSON document in place: secret keys' values, everything under `headers`, and
/// passwords inside every string.
pub fn redact_json(v: &mut serde_json::Value) {
    redact_json_in(v, None, false);
}

fn redact_json_in(v: &mut serde_json::Value, key: Option<&str>, in_headers: bool) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let headers = in_headers
                    || k.eq_ignore_ascii_case("headers")
                    || k.eq_ignore_ascii_case("webhook_headers");
                redact_json_in(child, Some(k), headers);
            }
        }
        serde_json::Value::Array(a) => {
            // Header lists are (name, value) pairs: keep the names.
            let pairs = in_headers && a.iter().all(|x| x.as_array().is_some_and(|p| p.len() == 2));
            for child in a.iter_mut() {
                if pairs && let Some(p) = child.as_array_mut() {
                    if let Some(value) = p.get_mut(1) {
                        *value = serde_json::Value::String(REDACTED.into());
                    }
                    continue;
                }
                redact_json_in(child, key, in_headers);
            }
        }
        serde_json::Value::String(s) => {
            let whole = in_headers || key.is_some_and(secret_key);
            if whole && !s.is_empty() {
                *s = REDACTED.into();
            } else if let Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_by_form() {
        for (input, want) in [
            (
                "postgresql://clair:hunter2@db:5432/clair",
                "postgresql://clair:<redacted>@db:5432/clair",
            ),
            (
                "amqp://guest:p%40ss@rabbit:5672/%2f",
                "amqp://guest:<redacted>@rabbit:5672/%2f",
            ),
            (
                "postgres://db/clair?sslmode=verify-full&password=hunter2&sslpassword=k3y",
                "postgres://db/clair?sslmode=verify-full&password=<redacted>&sslpassword=<redacted>",
            ),
            (
                "host=db user=clair password=hunter2 dbname=clair",
                "host=db user=clair password=<redacted> dbname=clair",
            ),
            (
                "host=db password = 'two words\\' here' sslpassword=x1",
                "host=db password = <redacted> sslpassword=<redacted>",
            ),
            (
                "fetching https://s3.example/blob?X-Amz-Signature=abc&x=1: timeout",
                "fetching https://s3.example/blob?X-Amz-Signature=<redacted>&x=1: timeout",
            ),
            (
                "https://host/path?token=abc#frag",
                "https://host/path?token=<redacted>#frag",
            ),
            (
                "no secrets here: a key server",
                "no secrets here: a key server",
            ),
            ("http://user@host/x", "http://user@host/x"),
        ] {
            assert_eq!(redact_text(input), want, "{input}");
        }
    }

    #[test]
    fn secrets_of_a_document() {
        let doc: Value = serde_yaml_ng::from_str(
            "auth:\n  psk:\n    key: c2VjcmV0LWtleQ==\n    iss: [quay]\nnotifier:\n  webhook:\n    target: https://hook.example/x\n    headers:\n      X-Token: [t0k3n-value]\nindexer:\n  connstring: host=db password=pgpass99\n",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let mut s = secrets_in(&doc);
        s.sort();
        assert_eq!(s, ["c2VjcmV0LWtleQ==", "pgpass99", "t0k3n-value"]);
    }

    #[test]
    fn json_documents() {
        let mut v = serde_json::json!({
            "database": "postgresql://u:pw1234@h/db",
            "psk": {"key": "abcdefgh", "iss": ["quay"]},
            "notifier": {"webhook_headers": [["X-Token", "t0k3n-value"]]},
        });
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "database": "postgresql://u:<redacted>@h/db",
                "psk": {"key": "<redacted>", "iss": ["quay"]},
                "notifier": {"webhook_headers": [["X-Token", "<redacted>"]]},
            })
        );
    }
}
