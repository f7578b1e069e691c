//! The message formats, as pure functions over bytes: what arrives on the queue (layer pushes)
//! and how a JSON document is put into an SNS message (`CLAIR.CONTENTTYPE`).
//!
//! Kept apart from the AWS calls so the fuzz targets and unit tests need neither a runtime nor
//! the SDK.

use std::io::{Read as _, Write as _};

use base64::Engine as _;

/// Largest queue message body read (SQS allows 1 MiB), also the most a base64gzip body may
/// decompress to.
pub const MAX_BODY: usize = 1 << 20;
/// Most layers one message may push (the v1 API follows parent chains this deep).
pub const MAX_LAYERS: usize = 1000;
/// The SNS message attribute naming how the message body is encoded.
pub const CONTENT_TYPE_ATTRIBUTE: &str = "CLAIR.CONTENTTYPE";
/// The body is the JSON document itself.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The body is the standard base64 of the gzipped JSON document.
pub const CONTENT_TYPE_BASE64GZIP: &str = "application/base64gzip";
/// SNS's limit on a message, body and attributes together.
pub const SNS_MAX_MESSAGE: usize = 256 * 1024;
/// Largest body sent as plain JSON: SNS's limit less room for the attributes (clair-sqs kept
/// the same margin).
pub const DEFAULT_INLINE_LIMIT: usize = 250 * 1024;

/// Why a queue message cannot be a layer push. Retrying such a message cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Larger than [`MAX_BODY`].
    #[error("message body: {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not JSON.
    #[error("message body: not JSON: {0}")]
    Json(String),
    /// An SNS envelope whose `Message` is missing or not a string, or cannot be decoded.
    #[error("message body: SNS envelope: {0}")]
    Envelope(String),
    /// Neither an object nor a list of objects.
    #[error("message body: want a {{\"Layer\":{{…}}}} object or a list of them, found {0}")]
    Shape(&'static str),
    /// A list with nothing in it.
    #[error("message body: empty list of layers")]
    Empty,
    /// A list longer than [`MAX_LAYERS`].
    #[error("message body: {0} layers, more than the {MAX_LAYERS} accepted")]
    TooMany(usize),
    /// An element without a `Layer` object carrying a non-empty `Name`.
    #[error("message body: layer {index}: {what}")]
    Layer {
        /// Position in the list (0 for a lone object).
        index: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// One layer to index: its name and its `POST /v1/layers` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPush {
    /// `Layer.Name`.
    pub name: String,
    /// The `{"Layer":{…}}` document, re-serialized, as the v1 handler reads it.
    pub body: Vec<u8>,
}

/// Read a queue message body: Clair v2's `POST /v1/layers` JSON, or a JSON list of them in
/// parent-first order, either of them possibly inside an SNS envelope (`"Type":"Notification"`
/// with the body as the `Message` string; `CLAIR.CONTENTTYPE` base64gzip honoured), which is
/// what a queue subscribed to a topic receives. Field names match case-insensitively, as the
/// v1 API reads them; everything but the name is left for the v1 handler to check.
pub fn parse_push(body: &[u8]) -> Result<Vec<LayerPush>, ParseError> {
    let value = parse_json(body)?;
    let value = unwrap_envelope(value)?;
    let items = match value {
        serde_json::Value::Object(_) => vec![value],
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                return Err(ParseError::Empty);
            }
            if items.len() > MAX_LAYERS {
                return Err(ParseError::TooMany(items.len()));
            }
            items
        }
        other => return Err(ParseError::Shape(kind(&other))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let name = layer_name(&item).map_err(|what| ParseError::Layer { index, what })?;
            let body = serde_json::to_vec(&item).map_err(|e| ParseError::Json(e.to_string()))?;
            Ok(LayerPush { name, body })
        })
        .collect()
}

fn parse_json(body: &[u8]) -> Result<serde_json::Value, ParseError> {
    if body.len() > MAX_BODY {
        return Err(ParseError::TooLarge {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))
}

/// Get the value under `key`, matching ASCII case-insensitively (Go's decoder does).
fn get_ci<'a>(
    m: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a serde_json::Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// An SNS notification envelope (`"Type":"Notification"`) is replaced by its message.
fn unwrap_envelope(value: serde_json::Value) -> Result<serde_json::Value, ParseError> {
    let serde_json::Value::Object(m) = &value else {
        return Ok(value);
    };
    let is_envelope = m.get("Type").and_then(|t| t.as_str()) == Some("Notification")
        && m.contains_key("Message")
        && !m.keys().any(|k| k.eq_ignore_ascii_case("layer"));
    if !is_envelope {
        return Ok(value);
    }
    let Some(message) = m.get("Message").and_then(|v| v.as_str()) else {
        return Err(ParseError::Envelope("Message is not a string".into()));
    };
    let content_type = m
        .get("MessageAttributes")
        .and_then(|a| a.get(CONTENT_TYPE_ATTRIBUTE))
        .and_then(|a| a.get("Value"))
        .and_then(|v| v.as_str())
        .unwrap_or(CONTENT_TYPE_JSON);
    let inner = decode_body(content_type, message).map_err(ParseError::Envelope)?;
    let inner = parse_json(&inner)?;
    if inner
        .as_object()
        .is_some_and(|m| m.get("Type").and_then(|t| t.as_str()) == Some("Notification"))
    {
        return Err(ParseError::Envelope(
            "an envelope inside an envelope".into(),
        ));
    }
    Ok(inner)
}

fn layer_name(item: &serde_json::Value) -> Result<String, &'static str> {
    let serde_json::Value::Object(m) = item else {
        return Err("not an object");
    };
    let layer = match get_ci(m, "layer") {
        Some(serde_json::Value::Object(l)) => l,
        Some(_) => return Err("Layer is not an object"),
        None => return Err("no Layer"),
    };
    match get_ci(layer, "name") {
        Some(serde_json::Value::String(n)) if !n.is_empty() => Ok(n.clone()),
        Some(serde_json::Value::String(_)) | None => Err("no Layer.Name"),
        Some(_) => Err("Layer.Name is not a string"),
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// An SNS message body and its `CLAIR.CONTENTTYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// [`CONTENT_TYPE_JSON`] or [`CONTENT_TYPE_BASE64GZIP`].
    pub content_type: &'static str,
    /// The message.
    pub body: String,
}

/// Put a JSON document into an SNS message: as it is when it has at most `inline_limit` bytes,
/// else as base64 of its gzip (clair-sqs's `application/base64gzip`). The result may still
/// exceed SNS's limit; the caller decides what to do then.
pub fn encode_body(json: &str, inline_limit: usize) -> Encoded {
    if json.len() <= inline_limit {
        return Encoded {
            content_type: CONTENT_TYPE_JSON,
            body: json.to_string(),
        };
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let zipped = gz
        .write_all(json.as_bytes())
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    Encoded {
        content_type: CONTENT_TYPE_BASE64GZIP,
        body: base64::engine::general_purpose::STANDARD.encode(zipped),
    }
}

/// The inverse of [`encode_body`]: the document bytes of a message body with this content
/// type, at most [`MAX_BODY`] of them.
pub fn decode_body(content_type: &str, body: &str) -> Result<Vec<u8>, String> {
    match content_type {
        CONTENT_TYPE_JSON => Ok(body.as_bytes().to_vec()),
        CONTENT_TYPE_BASE64GZIP => {
            let zipped = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|e| format!("base64: {e}"))?;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(zipped.as_slice())
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            if out.len() > MAX_BODY {
                return Err(format!("decompresses to more than {MAX_BODY} bytes"));
            }
            Ok(out)
        }
        other => Err(format!("unknown {CONTENT_TYPE_ATTRIBUTE} {other:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn push(name: &str) -> serde_json::Value {
        serde_json::json!({"Layer": {"Name": name, "Path": "http://127.0.0.1/x", "Format": "Docker"}})
    }

    #[test]
    fn one_layer_and_a_list() {
        let one = parse_push(push("a").to_string().as_bytes()).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "a");
        let body: serde_json::Value = serde_json::from_slice(&one[0].body).unwrap();
        assert_eq!(body, push("a"));
        let list = serde_json::json!([push("a"), push("b")]).to_string();
        let names: Vec<String> = parse_push(list.as_bytes())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn field_names_are_case_insensitive() {
        let body = r#"{"layer":{"name":"low","path":"/x","format":"docker"}}"#;
        assert_eq!(parse_push(body.as_bytes()).unwrap()[0].name, "low");
    }

    #[test]
    fn sns_envelopes_are_opened() {
        let inner = serde_json::json!([push("a"), push("b")]).to_string();
        let env = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": inner});
        assert_eq!(parse_push(env.to_string().as_bytes()).unwrap().len(), 2);
        let zipped = encode_body(&inner, 0);
        assert_eq!(zipped.content_type, CONTENT_TYPE_BASE64GZIP);
        let env = serde_json::json!({"Type": "Notification", "Message": zipped.body,
            "MessageAttributes": {"CLAIR.CONTENTTYPE": {"Type": "String", "Value": zipped.content_type}}});
        assert_eq!(parse_push(env.to_string().as_bytes()).unwrap()[1].name, "b");
        let nested = serde_json::json!({"Type": "Notification", "Message": env.to_string()});
        assert!(matches!(
            parse_push(nested.to_string().as_bytes()),
            Err(ParseError::Envelope(_))
        ));
    }

    #[test]
    fn poison_bodies_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("not json", "not JSON"),
            ("[]", "empty list"),
            ("42", "found a number"),
            (r#"{"Layer":{"Path":"/x"}}"#, "layer 0: no Layer.Name"),
            (
                r#"[{"Layer":{"Name":"a"}},{"Nope":1}]"#,
                "layer 1: no Layer",
            ),
            (r#"{"Layer":"a"}"#, "Layer is not an object"),
            (r#"{"Type":"Notification","Message":7}"#, "not a string"),
        ];
        for (body, want) in cases {
            let e = parse_push(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        let big = vec![b' '; MAX_BODY + 1];
        assert!(matches!(parse_push(&big), Err(ParseError::TooLarge { .. })));
        let many = serde_json::Value::Array(vec![push("a"); MAX_LAYERS + 1]).to_string();
        assert_eq!(
            parse_push(many.as_bytes()),
            Err(ParseError::TooMany(MAX_LAYERS + 1))
        );
    }

    #[test]
    fn large_documents_go_out_gzipped() {
        let doc = serde_json::json!({"Layer": {"Name": "x".repeat(5000)}}).to_string();
        let small = encode_body(&doc, DEFAULT_INLINE_LIMIT);
        assert_eq!(small.content_type, CONTENT_TYPE_JSON);
        assert_eq!(small.body, doc);
        let zipped = encode_body(&doc, 1000);
        assert_eq!(zipped.content_type, CONTENT_TYPE_BASE64GZIP);
        assert!(zipped.body.len() < doc.len(), "{}", zipped.body.len());
        assert_eq!(
            decode_body(zipped.content_type, &zipped.body).unwrap(),
            doc.as_bytes()
        );
        assert!(decode_body(CONTENT_TYPE_BASE64GZIP, "!!").is_err());
        assert!(decode_body("text/plain", "x").is_err());
    }
}
