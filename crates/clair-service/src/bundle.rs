//! Air-gap bundles: every updater's raw fetched data and fingerprint in one compressed file.
//!
//! `export` fetches every updater in full on a connected machine and writes a zstd-compressed
//! tar: `manifest.json` plus `files/<updater>/<file>`. `import` reads it back on a machine
//! without internet and runs each updater's parser on those files, storing update operations
//! exactly as an online run would, with the same fingerprints (so a later online run can make
//! conditional requests). The tar is read with clair-layer's bounded reader; member names are
//! checked against the manifest, never trusted as paths.
//!
//! **Signatures.** The manifest lists each file's sha256; `export` can sign the manifest's
//! exact bytes with an Ed25519 key (`manifest.json.sig`: the public key and the signature).
//! `import` hashes every member while unpacking it and checks it against the manifest, then,
//! before it parses the manifest, checks the signature against the trusted public keys. What
//! an unsigned bundle, or one signed by another key, is allowed to do is the caller's
//! [`Trust`]; a member that does not match the manifest is always refused.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clair_layer::tar::{EntryKind, StreamSkip, TarLimits, TarReader};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::manager::{Outcome, RunReport, UpdateManager, UpdateProgress};
use clair_matcher::updater::{FetchOutcome, FetchedFile, safe_name};

/// Errors of bundle export and import.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing the bundle file.
    #[error("bundle {path}: {source}")]
    Io {
        /// The bundle.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The bundle is not one clair-rs wrote, or is damaged.
    #[error("bundle {path}: {message}")]
    Invalid {
        /// The bundle.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The bundle's signature is missing, from an untrusted key, or wrong.
    #[error("bundle {path}: {message}")]
    Untrusted {
        /// The bundle.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A signing or public key file that cannot be used.
    #[error("key {path}: {message}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl BundleError {
    fn key(path: &Path, message: impl std::fmt::Display) -> BundleError {
        BundleError::Key {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

/// An Ed25519 private key that signs bundles.
pub struct BundleSigner(ed25519_dalek::SigningKey);

impl std::fmt::Debug for BundleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BundleSigner({})", key_id(&self.0.verifying_key()))
    }
}

/// An Ed25519 public key that bundles may be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    key: ed25519_dalek::VerifyingKey,
    /// Where it was read from, for messages.
    pub origin: String,
}

/// The short id of a public key: the first 16 hex digits of the sha256 of its 32 bytes.
fn key_id(k: &ed25519_dalek::VerifyingKey) -> String {
    hex::encode(Sha256::digest(k.as_bytes()))
        .get(..16)
        .unwrap_or_default()
        .to_string()
}

impl BundleSigner {
    /// A new random key.
    pub fn generate() -> BundleSigner {
        BundleSigner(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Read a PKCS#8 PEM private key (`clair update keygen`, `openssl genpkey -algorithm
    /// ed25519`); `path` names it in errors.
    pub fn from_pem(pem: &str, path: &Path) -> Result<BundleSigner, BundleError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(BundleSigner)
            .map_err(|e| {
                BundleError::key(path, format!("not an Ed25519 PKCS#8 PEM private key ({e})"))
            })
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, BundleError> {
        self.0
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| BundleError::key(Path::new("(new key)"), e))
    }

    /// The public key as SPKI PEM (what importing machines trust).
    pub fn public_pem(&self) -> Result<String, BundleError> {
        self.0
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| BundleError::key(Path::new("(new key)"), e))
    }

    /// The public key's short id.
    pub fn key_id(&self) -> String {
        key_id(&self.0.verifying_key())
    }
}

impl TrustedKey {
    /// Read an SPKI PEM public key (`keygen`'s `.pub`, `openssl pkey -pubout`).
    pub fn from_pem(pem: &str, path: &Path) -> Result<TrustedKey, BundleError> {
        ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map(|key| TrustedKey {
                key,
                origin: path.display().to_string(),
            })
            .map_err(|e| {
                BundleError::key(path, format!("not an Ed25519 SPKI PEM public key ({e})"))
            })
    }

    /// The key's short id.
    pub fn key_id(&self) -> String {
        key_id(&self.key)
    }
}

/// Which bundles `import` loads.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The keys a bundle may be signed with.
    pub keys: Vec<TrustedKey>,
    /// Load bundles that are unsigned, signed by another key, or whose signature does not
    /// verify (the manifest's file digests are still checked).
    pub allow_unsigned: bool,
}

/// What `import` found out about a bundle's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Signed by this trusted key (its id and where it was read from).
    Trusted {
        /// The key's short id.
        key_id: String,
        /// Where the key was read from.
        origin: String,
    },
    /// Loaded without a trusted signature (allowed by [`Trust::allow_unsigned`]); why.
    Untrusted(String),
}

/// `manifest.json.sig`.
#[derive(Debug, Serialize, Deserialize)]
struct SignatureFile {
    algorithm: String,
    key_id: String,
    /// The raw 32-byte public key, base64.
    public_key: String,
    /// The 64-byte signature of manifest.json's bytes, base64.
    signature: String,
}

/// Passes bytes through while hashing them.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

const FORMAT: u32 = 1;
const SIGNATURE_MEMBER: &str = "manifest.json.sig";
/// Largest member accepted on import.
const MAX_MEMBER: u64 = 8 << 30;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    created: jiff::Timestamp,
    updaters: Vec<ManifestUpdater>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestUpdater {
    name: String,
    kind: clair_store::OpKind,
    fingerprint: String,
    files: Vec<ManifestFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    name: String,
    url: String,
    validators: clair_matcher::fetch::Validators,
    member: String,
    /// Hex sha256 of the member (bundles before signing had none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    sha256: String,
}

/// What an export did per updater.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Updater name.
    pub updater: String,
    /// Files and bytes written, or the error.
    pub result: Result<(usize, u64), String>,
}

impl UpdateManager {
    /// Fetch every updater (or those in `only`) in full and write a bundle to `path`.
    /// Updaters that fail are reported and left out; the bundle holds the others.
    /// With `signer`, the manifest is signed.
    pub fn export(
        &self,
        path: &Path,
        only: Option<&[String]>,
        signer: Option<&BundleSigner>,
    ) -> Result<Vec<ExportReport>, BundleError> {
        let io = |source| BundleError::Io {
            path: path.display().to_string(),
            source,
        };
        let tmp_path = path.with_extension("partial");
        let out = File::create(&tmp_path).map_err(io)?;
        let enc = zstd::stream::write::Encoder::new(BufWriter::new(out), 6).map_err(io)?;
        let mut tar = tar::Builder::new(enc);
        let mut manifest = Manifest {
            format: FORMAT,
            created: jiff::Timestamp::now(),
            updaters: Vec::new(),
        };
        let mut reports = Vec::new();
        for u in self
            .updaters()
            .iter()
            .filter(|u| only.is_none_or(|o| o.iter().any(|n| n == u.name())))
        {
            let dir = self.tempdir().map_err(io)?;
            let result = match u.fetch(self.http_client(), dir.path(), "") {
                Err(e) => Err(e.to_string()),
                Ok(FetchOutcome::Unchanged) => {
                    Err("upstream answered 'not modified' to a full fetch".into())
                }
                Ok(FetchOutcome::Fetched { files, fingerprint }) => {
                    let mut entry = ManifestUpdater {
                        name: u.name().to_string(),
                        kind: u.kind(),
                        fingerprint,
                        files: Vec::new(),
                    };
                    let mut bytes = 0;
                    for f in &files {
                        let member =
                            format!("files/{}/{}", safe_name(u.name()), safe_name(&f.name));
                        let src = File::open(&f.path).map_err(io)?;
                        let len = src.metadata().map_err(io)?.len();
                        let mut h = tar::Header::new_gnu();
                        h.set_size(len);
                        h.set_mode(0o644);
                        h.set_mtime(0);
                        h.set_cksum();
                        let mut src = HashingReader {
                            inner: src,
                            hash: Sha256::new(),
                        };
                        tar.append_data(&mut h, &member, &mut src).map_err(io)?;
                        bytes += len;
                        entry.files.push(ManifestFile {
                            name: f.name.clone(),
                            url: f.url.clone(),
                            validators: f.validators.clone(),
                            member,
                            sha256: hex::encode(src.hash.finalize()),
                        });
                    }
                    let n = entry.files.len();
                    manifest.updaters.push(entry);
                    Ok((n, bytes))
                }
            };
            reports.push(ExportReport {
                updater: u.name().to_string(),
                result,
            });
        }
        let m = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, "manifest.json", &m[..])
            .map_err(io)?;
        if let Some(k) = signer {
            let sig = SignatureFile {
                algorithm: "ed25519".into(),
                key_id: k.key_id(),
                public_key: base64::engine::general_purpose::STANDARD
                    .encode(k.0.verifying_key().as_bytes()),
                signature: base64::engine::general_purpose::STANDARD
                    .encode(k.0.sign(&m).to_bytes()),
            };
            let bytes = serde_json::to_vec_pretty(&sig).map_err(|e| BundleError::Invalid {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            tar.append_data(&mut h, SIGNATURE_MEMBER, &bytes[..])
                .map_err(io)?;
        }
        let enc = tar.into_inner().map_err(io)?;
        let mut w = enc.finish().map_err(io)?;
        w.flush().map_err(io)?;
        drop(w);
        std::fs::rename(&tmp_path, path).map_err(io)?;
        Ok(reports)
    }

    /// Load a bundle: check its files against its manifest and its signature against `trust`,
    /// then run each known updater's parser on its files and store the results.
    pub fn import(
        &self,
        path: &Path,
        progress: &dyn UpdateProgress,
        trust: &Trust,
    ) -> Result<(Vec<RunReport>, Signature), BundleError> {
        let invalid = |message: String| BundleError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let io = |source| BundleError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = self.tempdir().map_err(io)?;
        // Unpack every regular member under a name derived from its index, remembering the
        // mapping; the manifest decides what they are.
        let f = File::open(path).map_err(io)?;
        let dec = zstd::stream::read::Decoder::new(f).map_err(io)?;
        let mut tar = TarReader::new(StreamSkip(dec), TarLimits::default());
        let mut members: Vec<(String, PathBuf, String)> = Vec::new();
        let mut manifest_bytes: Option<Vec<u8>> = None;
        let mut signature_bytes: Option<Vec<u8>> = None;
        while let Some(e) = tar.next_entry().map_err(|e| invalid(e.to_string()))? {
            if e.kind != EntryKind::File {
                continue;
            }
            if e.name == "manifest.json" || e.name == SIGNATURE_MEMBER {
                let data = tar
                    .read_data_to_vec(16 << 20)
                    .map_err(|e| invalid(e.to_string()))?
                    .ok_or_else(|| invalid(format!("{} is too large", e.name)))?;
                if e.name == SIGNATURE_MEMBER {
                    signature_bytes = Some(data);
                } else {
                    manifest_bytes = Some(data);
                }
                continue;
            }
            if e.size > MAX_MEMBER {
                return Err(invalid(format!("member {} is {} bytes", e.name, e.size)));
            }
            let dest = dir.path().join(format!("m{}", members.len()));
            let mut out = BufWriter::new(File::create(&dest).map_err(io)?);
            let mut buf = vec![0u8; 256 * 1024];
            let mut hash = Sha256::new();
            loop {
                let n = tar
                    .read_data(&mut buf)
                    .map_err(|e| invalid(e.to_string()))?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io)?;
            }
            out.flush().map_err(io)?;
            members.push((e.name.clone(), dest, hex::encode(hash.finalize())));
        }
        let manifest_bytes = manifest_bytes
            .ok_or_else(|| invalid("no manifest.json: not a clair-rs bundle".into()))?;
        let signature = check_signature(path, &manifest_bytes, signature_bytes.as_deref(), trust)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| invalid(format!("manifest.json: {e}")))?;
        // Every file the manifest names must be there, with the digest it names.
        for mf in manifest.updaters.iter().flat_map(|u| &u.files) {
            let Some((_, _, sha)) = members.iter().find(|(n, _, _)| *n == mf.member) else {
                return Err(invalid(format!("file {} is missing", mf.member)));
            };
            if mf.sha256.is_empty() {
                if matches!(signature, Signature::Trusted { .. }) {
                    return Err(invalid(format!(
                        "file {} has no digest in the signed manifest",
                        mf.member
                    )));
                }
            } else if *sha != mf.sha256 {
                return Err(invalid(format!(
                    "file {} does not match the manifest (sha256 {sha}, manifest says {}): the bundle was changed",
                    mf.member, mf.sha256
                )));
            }
        }
        if manifest.format != FORMAT {
            return Err(invalid(format!(
                "format {} (this clair reads {FORMAT})",
                manifest.format
            )));
        }
        let mut reports = Vec::new();
        for mu in &manifest.updaters {
            let Some(u) = self.updaters().iter().find(|u| u.name() == mu.name) else {
                tracing::warn!(updater = %mu.name, "bundle holds an updater this clair does not have; skipped");
                continue;
            };
            let start = std::time::Instant::now();
            let mut files = Vec::new();
            for mf in &mu.files {
                let Some((_, p, _)) = members.iter().find(|(n, _, _)| *n == mf.member) else {
                    return Err(invalid(format!(
                        "{}: file {} is missing",
                        mu.name, mf.member
                    )));
                };
                files.push(FetchedFile {
                    name: mf.name.clone(),
                    url: mf.url.clone(),
                    path: p.clone(),
                    validators: mf.validators.clone(),
                });
            }
            progress.started(&mu.name);
            let outcome = match self.store_records(
                u.as_ref(),
                &files,
                &mu.fingerprint,
                progress,
                self.cancel(),
            ) {
                Ok((op, records)) => Outcome::Updated { op, records },
                Err(error) => Outcome::Failed { error },
            };
            let report = RunReport {
                updater: mu.name.clone(),
                outcome,
                duration: start.elapsed(),
            };
            self.record_status(u.as_ref(), &report);
            progress.finished(&report);
            reports.push(report);
        }
        let _ = self.store().gc(self.keep_count());
        Ok((reports, signature))
    }
}

/// Check `manifest.json.sig` against the trusted keys; what is not trusted is refused unless
/// `trust.allow_unsigned`.
fn check_signature(
    path: &Path,
    manifest: &[u8],
    sig: Option<&[u8]>,
    trust: &Trust,
) -> Result<Signature, BundleError> {
    let problem = match sig {
        None => "it is not signed".to_string(),
        Some(bytes) => match verify(manifest, bytes, &trust.keys) {
            Ok(k) => {
                return Ok(Signature::Trusted {
                    key_id: k.key_id(),
                    origin: k.origin.clone(),
                });
            }
            Err(why) => why,
        },
    };
    if trust.allow_unsigned {
        return Ok(Signature::Untrusted(problem));
    }
    let keys = if trust.keys.is_empty() {
        "no key is trusted".to_string()
    } else {
        format!(
            "trusted: {}",
            trust
                .keys
                .iter()
                .map(|k| format!("{} ({})", k.key_id(), k.origin))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(BundleError::Untrusted {
        path: path.display().to_string(),
        message: format!("refused: {problem} ({keys})"),
    })
}

/// The trusted key whose signature `sig` is, or why there is none.
fn verify<'k>(
    manifest: &[u8],
    sig: &[u8],
    keys: &'k [TrustedKey],
) -> Result<&'k TrustedKey, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let f: SignatureFile =
        serde_json::from_slice(sig).map_err(|e| format!("{SIGNATURE_MEMBER}: {e}"))?;
    if f.algorithm != "ed25519" {
        return Err(format!(
            "{SIGNATURE_MEMBER}: algorithm {:?}, not ed25519",
            f.algorithm
        ));
    }
    let public: [u8; 32] = b64
        .decode(&f.public_key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("{SIGNATURE_MEMBER}: public_key is not 32 base64 bytes"))?;
    let signature: [u8; 64] = b64
        .decode(&f.signature)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("{SIGNATURE_MEMBER}: signature is not 64 base64 bytes"))?;
    let Some(k) = keys.iter().find(|k| k.key.as_bytes() == &public) else {
        let id = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map(|k| key_id(&k))
            .unwrap_or_else(|_| f.key_id.clone());
        return Err(format!("it is signed by key {id}, which is not trusted"));
    };
    k.key
        .verify_strict(manifest, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| {
            format!(
                "its signature by trusted key {} does not verify: the manifest was changed",
                k.key_id()
            )
        })?;
    Ok(k)
}
