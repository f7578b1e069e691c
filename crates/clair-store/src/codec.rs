//! Encoding of stored documents: JSON, zstd-compressed. JSON keeps them readable by any tool and
//! tolerant of added fields; compression keeps the database small.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

const LEVEL: i32 = 3;
/// Largest decoded document accepted (a corrupt length must not exhaust memory).
const MAX_DECODED: usize = 1 << 30;

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(v).map_err(|e| Error::Decode {
        what: "document".into(),
        message: e.to_string(),
    })?;
    zstd::bulk::compress(&json, LEVEL).map_err(|e| Error::Decode {
        what: "document".into(),
        message: e.to_string(),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    let bad = |message: String| Error::Decode {
        what: what.to_string(),
        message,
    };
    let json = zstd::stream::decode_all(std::io::Read::take(bytes, MAX_DECODED as u64))
        .map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))
}

/// Microseconds since the Unix epoch: how timestamps are stored (sortable in both backends).
pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
