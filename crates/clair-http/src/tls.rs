//! Serving over TLS: a certificate chain and key from PEM files, client certificates required
//! when a CA bundle is given (Clair 2's `api.cafile`: TLS 1.2 at least, every client verified),
//! and reloading the files on demand (SIGHUP) without dropping connections. Handshakes run in
//! their own tasks with a deadline, so a slow client cannot hold up the others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use crate::Error;

/// How long a client has to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA bundle that client certificates must chain to; `None`: no client certificates.
    pub client_ca: Option<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Tls(format!("{}: {e}", path.display())))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no PEM certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

impl TlsFiles {
    /// Read the files into a server configuration.
    pub fn load(&self) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_slice(&read(&self.key)?)
            .map_err(|e| Error::Tls(format!("{}: {e}", self.key.display())))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = builder.with_single_cert(chain, key).map_err(|e| {
            Error::Tls(format!(
                "{} and {}: {e}",
                self.cert.display(),
                self.key.display()
            ))
        })?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// A TLS configuration that can be replaced while serving.
#[derive(Debug)]
pub struct Reloadable {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

impl Reloadable {
    /// Load `files` (an error names the file at fault).
    pub fn new(files: TlsFiles) -> Result<Arc<Reloadable>, Error> {
        let cfg = files.load()?;
        Ok(Arc::new(Reloadable {
            files,
            current: RwLock::new(cfg),
        }))
    }

    /// Read the files again; on error the old configuration stays.
    pub fn reload(&self) -> Result<(), Error> {
        let cfg = self.files.load()?;
        if let Ok(mut c) = self.current.write() {
            *c = cfg;
        }
        Ok(())
    }

    fn config(&self) -> Option<Arc<ServerConfig>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// Connections whose handshake finished, for `axum::serve`.
struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Serve `router` over TLS on `listener` until `shutdown` resolves.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<Reloadable>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let local = listener.local_addr().map_err(|source| Error::Serve {
        addr: String::new(),
        source,
    })?;
    tracing::info!(addr = %local, "listening (TLS)");
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(cfg) = tls.config() else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                let accept = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send((stream, peer)).await;
                    }
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    let result = crate::server::serve(
        TlsListener { rx, local },
        router,
        crate::server::Limits::default(),
        shutdown,
    )
    .await;
    acceptor.abort();
    result
}
