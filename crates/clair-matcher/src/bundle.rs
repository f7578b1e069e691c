//! Air-gap bundles: every updater's raw fetched data and fingerprint in one compressed file.
//!
//! `export` fetches every updater in full on a connected machine and writes a zstd-compressed
//! tar: `manifest.json` plus `files/<updater>/<file>`. `import` reads it back on a machine
//! without internet and runs each updater's parser on those files, storing update operations
//! exactly as an online run would, with the same fingerprints (so a later online run can make
//! conditional requests). The tar is read with clair-layer's bounded reader; member names are
//! checked against the manifest, never trusted as paths.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clair_layer::tar::{EntryKind, StreamSkip, TarLimits, TarReader};
use serde::{Deserialize, Serialize};

use crate::manager::{Outcome, RunReport, UpdateManager, UpdateProgress};
use crate::updater::{FetchOutcome, FetchedFile, safe_name};

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
}

const FORMAT: u32 = 1;
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
    validators: crate::fetch::Validators,
    member: String,
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
    pub fn export(
        &self,
        path: &Path,
        only: Option<&[String]>,
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
                        let mut src = File::open(&f.path).map_err(io)?;
                        let len = src.metadata().map_err(io)?.len();
                        let mut h = tar::Header::new_gnu();
                        h.set_size(len);
                        h.set_mode(0o644);
                        h.set_mtime(0);
                        h.set_cksum();
                        tar.append_data(&mut h, &member, &mut src).map_err(io)?;
                        bytes += len;
                        entry.files.push(ManifestFile {
                            name: f.name.clone(),
                            url: f.url.clone(),
                            validators: f.validators.clone(),
                            member,
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
        let enc = tar.into_inner().map_err(io)?;
        let mut w = enc.finish().map_err(io)?;
        w.flush().map_err(io)?;
        drop(w);
        std::fs::rename(&tmp_path, path).map_err(io)?;
        Ok(reports)
    }

    /// Load a bundle: run each known updater's parser on its files and store the results.
    pub fn import(
        &self,
        path: &Path,
        progress: &dyn UpdateProgress,
    ) -> Result<Vec<RunReport>, BundleError> {
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
        let mut members: Vec<(String, PathBuf)> = Vec::new();
        let mut manifest: Option<Manifest> = None;
        while let Some(e) = tar.next_entry().map_err(|e| invalid(e.to_string()))? {
            if e.kind != EntryKind::File {
                continue;
            }
            if e.name == "manifest.json" {
                let data = tar
                    .read_data_to_vec(16 << 20)
                    .map_err(|e| invalid(e.to_string()))?
                    .ok_or_else(|| invalid("manifest.json is too large".into()))?;
                manifest = Some(
                    serde_json::from_slice(&data)
                        .map_err(|e| invalid(format!("manifest.json: {e}")))?,
                );
                continue;
            }
            if e.size > MAX_MEMBER {
                return Err(invalid(format!("member {} is {} bytes", e.name, e.size)));
            }
            let dest = dir.path().join(format!("m{}", members.len()));
            let mut out = BufWriter::new(File::create(&dest).map_err(io)?);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = tar
                    .read_data(&mut buf)
                    .map_err(|e| invalid(e.to_string()))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(io)?;
            }
            out.flush().map_err(io)?;
            members.push((e.name.clone(), dest));
        }
        let manifest =
            manifest.ok_or_else(|| invalid("no manifest.json: not a clair-rs bundle".into()))?;
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
                let Some((_, p)) = members.iter().find(|(n, _)| *n == mf.member) else {
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
        Ok(reports)
    }
}
