//! Reading one layer blob: decompress, walk the tar, verify the digest — in one pass.
//!
//! The raw blob is read sequentially by one thread that hashes it and reports progress; the
//! decompressor and tar walker run on the calling thread. For uncompressed blobs the walker
//! seeks over file data instead of reading it, so only the hasher touches every byte.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::mpsc::{Receiver, sync_channel};

use clair_types::{Digest, Sha256Writer};

use crate::blob::FileRange;
use crate::compression::{self, Compression};
use crate::contents::{FileSelector, LayerContents};
use crate::error::{Error, Result};
use crate::extract::{ExtractLimits, extract};
use crate::tar::{SeekSkip, StreamSkip, TarReader};

/// How a layer's bytes are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// The raw (possibly compressed) blob must hash to this digest (OCI blobs).
    Blob(Digest),
    /// The uncompressed tar must hash to this digest (a docker-archive layer's diff_id).
    DiffId(Digest),
    /// Nothing to check against; the raw digest is computed (a lone layer file).
    None,
}

/// What reading a layer produced.
#[derive(Debug)]
pub struct LayerRead {
    /// Selected files and structure.
    pub contents: LayerContents,
    /// Digest of the raw blob bytes.
    pub blob_digest: Digest,
    /// Compression found.
    pub compression: Compression,
    /// Raw bytes read.
    pub blob_bytes: u64,
}

const CHUNK: usize = 1 << 20;

/// Read and verify the layer blob at `blob`. `name` identifies the layer in errors;
/// `progress` is called with raw byte counts as they are read.
pub fn read_layer(
    name: &str,
    blob: &FileRange,
    verify: &Verify,
    selector: &FileSelector,
    limits: &ExtractLimits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<LayerRead> {
    let io_err = |e| Error::io(name, e);
    let mut head = [0u8; 8];
    let mut probe = blob.open().map_err(io_err)?;
    let n = read_up_to(&mut probe, &mut head).map_err(io_err)?;
    let compression = Compression::detect(&head[..n]);
    probe.seek(SeekFrom::Start(0)).map_err(io_err)?;

    let (hashed, extracted, diff) = std::thread::scope(|s| {
        if compression == Compression::None {
            // Seek over data while another thread hashes every byte.
            let hasher = s.spawn(|| hash_range(blob, None, progress));
            let mut tar = TarReader::new(SeekSkip::new(probe, blob.len), limits.tar);
            let extracted = extract(&mut tar, selector, limits);
            (join(hasher), extracted, None)
        } else {
            let (tx, rx) = sync_channel::<Vec<u8>>(8);
            let hasher = s.spawn(move || hash_range(blob, Some(tx), progress));
            let (extracted, diff) = decompress_and_extract(
                compression,
                ChannelReader::new(rx),
                matches!(verify, Verify::DiffId(_)),
                selector,
                limits,
            );
            (join(hasher), extracted, diff)
        }
    });
    let (blob_digest, blob_bytes) = hashed.map_err(io_err)?;
    if blob_bytes != blob.len {
        return Err(Error::Image(format!(
            "{name}: read {blob_bytes} bytes, expected {}",
            blob.len
        )));
    }
    let check = |expected: &Digest, actual: &Digest| {
        if expected == actual {
            Ok(())
        } else {
            Err(Error::DigestMismatch {
                what: name.to_string(),
                expected: expected.clone(),
                actual: actual.clone(),
            })
        }
    };
    match verify {
        Verify::Blob(d) => check(d, &blob_digest)?,
        Verify::DiffId(d) => match &diff {
            None => check(d, &blob_digest)?,
            Some(Ok(actual)) => check(d, actual)?,
            Some(Err(e)) => {
                return Err(Error::Image(format!(
                    "{name}: could not hash the uncompressed layer: {e}"
                )));
            }
        },
        Verify::None => {}
    }
    let contents = extracted.map_err(|source| Error::Tar {
        layer: format!("{name} ({} compression)", compression.name()),
        source,
    })?;
    Ok(LayerRead {
        contents,
        blob_digest,
        compression,
        blob_bytes,
    })
}

type Extracted = std::result::Result<LayerContents, crate::tar::TarError>;

fn decompress_and_extract(
    compression: Compression,
    raw: ChannelReader,
    hash_uncompressed: bool,
    selector: &FileSelector,
    limits: &ExtractLimits,
) -> (Extracted, Option<io::Result<Digest>>) {
    let br = io::BufReader::with_capacity(256 * 1024, raw);
    let dec = match compression::decoder(compression, br) {
        Ok(d) => d,
        Err(e) => {
            return (
                Err(crate::tar::TarError::Io {
                    offset: 0,
                    source: e,
                }),
                None,
            );
        }
    };
    if hash_uncompressed {
        let mut hr = HashingReader {
            inner: dec,
            hasher: Sha256Writer::new(),
        };
        let mut tar = TarReader::new(StreamSkip(&mut hr), limits.tar);
        let extracted = extract(&mut tar, selector, limits);
        // The diff_id covers the whole stream, including anything after the end marker.
        let drained = io::copy(&mut hr, &mut io::sink());
        let diff = drained.map(|_| hr.hasher.finish());
        (extracted, Some(diff))
    } else {
        let mut tar = TarReader::new(StreamSkip(dec), limits.tar);
        (extract(&mut tar, selector, limits), None)
    }
}

fn join<T>(h: std::thread::ScopedJoinHandle<'_, io::Result<T>>) -> io::Result<T> {
    h.join()
        .unwrap_or_else(|_| Err(io::Error::other("layer hashing thread panicked")))
}

/// Hash the whole range, optionally forwarding chunks to a consumer. Keeps hashing when the
/// consumer hangs up early (a tar's end marker can come before the end of the blob).
fn hash_range(
    blob: &FileRange,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<(Digest, u64)> {
    let mut f = blob.open()?;
    let mut h = Sha256Writer::new();
    let mut total = 0u64;
    let mut tx = tx;
    let mut reuse = vec![0u8; CHUNK];
    loop {
        let mut buf = if tx.is_some() {
            vec![0u8; CHUNK]
        } else {
            std::mem::take(&mut reuse)
        };
        let n = read_up_to(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        h.update(&buf);
        total += n as u64;
        progress(n as u64);
        match &tx {
            Some(t) => {
                if t.send(buf).is_err() {
                    tx = None;
                }
            }
            None => {
                buf.resize(CHUNK, 0);
                reuse = buf;
            }
        }
    }
    Ok((h.finish(), total))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads the chunks a hashing thread sends; EOF when it is done.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256Writer,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
