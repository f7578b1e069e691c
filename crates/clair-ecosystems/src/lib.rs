//! Ecosystem knowledge, one module per package format or distribution family.
//!
//! Package database formats shared by several distributions (`dpkg`, `rpm`, `apk`) live apart
//! from distribution detection (`osrelease`). [`defaults`] is the one explicit list of scanners.
#![forbid(unsafe_code)]

pub mod apk;
pub mod dpkg;
pub mod osrelease;
pub mod rpm;

#[cfg(test)]
mod test_corpus;
