//! The SSRF policy: which addresses a client may connect to, checked in the HTTP client's
//! resolver so the addresses checked are the addresses connected to (a DNS answer that changes
//! between a check and the connection cannot slip through). A name with any forbidden address
//! is refused whole.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs};

/// Name resolution for a filtered client: every address returned is checked before any is
/// connected to.
pub trait Lookup: std::fmt::Debug + Send + Sync + 'static {
    /// The addresses of `host` (a name or an address literal) at `port`; an empty list is
    /// "not found".
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// Which addresses a client may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Allow link-local and metadata addresses (169.254.0.0/16, fe80::/10, …).
    pub allow_link_local: bool,
    /// How names become addresses; `None`: the system's resolver. Tests inject their own to
    /// play DNS answers an attacker controls.
    pub lookup: Option<Arc<dyn Lookup>>,
}

/// Whether an address is link-local or a well-known cloud metadata endpoint, in any of its
/// IPv6 spellings: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001::/32`,
/// server and obfuscated client address) all reach the IPv4 address they embed.
pub fn is_link_local_or_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            let embedded = [
                v6.to_ipv4_mapped(),
                // IPv4-compatible (deprecated, still routed by some stacks).
                (s[..6] == [0; 6]).then(|| v4(s[6], s[7])),
                // NAT64, well-known and local-use prefixes.
                (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| v4(s[6], s[7])),
                (s[..3] == [0x64, 0xff9b, 1]).then(|| v4(s[6], s[7])),
                // 6to4.
                (s[0] == 0x2002).then(|| v4(s[1], s[2])),
                // Teredo: the server, and the client XORed with all ones.
                (s[..2] == [0x2001, 0]).then(|| v4(s[2], s[3])),
                (s[..2] == [0x2001, 0]).then(|| v4(!s[6], !s[7])),
            ];
            if embedded.into_iter().flatten().any(forbidden_v4) {
                return true;
            }
            (s[0] & 0xffc0) == 0xfe80
                // AWS IMDS over IPv6.
                || s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local()
        // Alibaba Cloud's metadata service.
        || v4.octets() == [100, 100, 100, 200]
}

/// A name whose resolution includes a forbidden address (the error the filtering resolver
/// hands back through the HTTP client).
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves to {ip}, a link-local or cloud metadata address; \
     set clair_rs.allow_link_local_layers to allow it"
)]
pub struct ForbiddenAddress {
    /// The name looked up.
    pub host: String,
    /// The forbidden address among its answers.
    pub ip: IpAddr,
}

/// Why a name has no usable address.
pub(crate) enum ResolveError {
    Lookup(String),
    Forbidden(ForbiddenAddress),
}

impl AddressPolicy {
    /// Every address of `host:port`, or why not.
    pub(crate) fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match &self.lookup {
            Some(l) => l.lookup(host, port),
            None => (host, port).to_socket_addrs().map(Iterator::collect),
        }
        .map_err(|e| ResolveError::Lookup(format!("resolving {host}: {e}")))?;
        if addrs.is_empty() {
            return Err(ResolveError::Lookup(format!(
                "resolving {host}: no address"
            )));
        }
        if !self.allow_link_local
            && let Some(a) = addrs.iter().find(|a| is_link_local_or_metadata(a.ip()))
        {
            return Err(ResolveError::Forbidden(ForbiddenAddress {
                host: host.to_string(),
                ip: a.ip(),
            }));
        }
        Ok(addrs)
    }
}

/// The client's resolver: a fixed address for one name (Go's `tls.Config.ServerName` setups:
/// TLS checks the name, the connection goes to the real address), then the [`AddressPolicy`]
/// when there is one, else the system's resolver.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    pub(crate) policy: Option<AddressPolicy>,
    /// (name, real `host:port`).
    pub(crate) connect_to: Option<(String, String)>,
}

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let renamed;
        let uri = match &self.connect_to {
            Some((name, real)) if uri.host() == Some(name.as_str()) => {
                renamed = format!("http://{real}/")
                    .parse::<ureq::http::Uri>()
                    .map_err(|_| ureq::Error::HostNotFound)?;
                &renamed
            }
            _ => uri,
        };
        let Some(policy) = &self.policy else {
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = policy.addresses(host, port).map_err(|e| match e {
            ResolveError::Lookup(m) => ureq::Error::Io(std::io::Error::other(m)),
            ResolveError::Forbidden(f) => ureq::Error::Other(Box::new(f)),
        })?;
        let mut out = self.empty();
        for a in addrs {
            if out.try_push(a).is_err() {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for (ip, bad) in [
            ("169.254.169.254", true),
            ("169.254.1.1", true),
            ("100.100.100.200", true),
            ("fe80::1", true),
            ("fd00:ec2::254", true),
            ("::ffff:169.254.169.254", true),
            ("::169.254.169.254", true),
            ("64:ff9b::169.254.169.254", true),
            ("64:ff9b:1::a9fe:a9fe", true),
            ("2002:a9fe:a9fe::", true),
            ("2001:0:a9fe:a9fe::1", true),
            ("2001:0:4136:e378:8000:63bf:5601:5601", true),
            ("::ffff:100.100.100.200", true),
            ("2002:7f00:1::", false),
            ("64:ff9b::8.8.8.8", false),
            ("127.0.0.1", false),
            ("10.0.0.1", false),
            ("::1", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
            assert_eq!(is_link_local_or_metadata(ip), bad, "{ip}");
        }
    }
}
