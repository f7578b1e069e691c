//! URLs as the client sees them: which ones it fetches, how a redirect's `Location` resolves
//! (RFC 3986, by the `url` crate), and how one is shown in messages (never its credentials or
//! query, which may hold a signature).

/// A URL without its credentials (`user:pass@`), query and fragment, for messages.
pub fn display_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// The host, port and whether it is `https`, of an `http`/`https` URL with a host; `None` for
/// anything else. Parsed as the HTTP client parses it (an empty authority is no host, though
/// the WHATWG parser of the `url` crate would take the path's first segment for one).
pub(crate) fn host_and_port(url: &str) -> Option<(String, u16, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, rest) = h.split_once(']')?;
        let port = rest.strip_prefix(':').map(str::parse).transpose().ok()?;
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host, port.unwrap_or(if https { 443 } else { 80 }), https))
}

/// The `(host, port)` a URL's credentials belong to, host lower-cased.
pub(crate) fn origin(url: &str) -> Option<(String, u16)> {
    host_and_port(url).map(|(h, p, _)| (h.to_ascii_lowercase(), p))
}

/// URL handling of untrusted input, for fuzz targets (no network).
pub fn check_url_for_fuzz(url: &str) -> Option<String> {
    let _ = host_and_port(url)?;
    let (base, loc) = url.split_once(' ').unwrap_or((url, "/x"));
    Some(resolve_target(base, loc) + &display_url(url))
}

/// A redirect's `Location` resolved against the URL that answered (RFC 3986, by the `url`
/// crate: `?query`-only, `//host`, `../` and absolute forms); a base that is no URL leaves the
/// location as it is (the fetch then refuses it).
pub(crate) fn resolve_target(base: &str, location: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(location)) {
        Ok(u) => u.to_string(),
        Err(_) => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            host_and_port("https://user:pw@Reg.example:5000/v2/x"),
            Some(("Reg.example".into(), 5000, true))
        );
        assert_eq!(
            host_and_port("http://[::1]/x"),
            Some(("::1".into(), 80, false))
        );
        assert_eq!(host_and_port("file:///etc/passwd"), None);
        assert_eq!(host_and_port("http:///x"), None);
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x?y", "/elsewhere"),
            "http://a:1/elsewhere"
        );
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x", "y"),
            "http://a:1/v2/blobs/y"
        );
        assert_eq!(resolve_target("https://a/x", "//b/c"), "https://b/c");
        // A query-only reference keeps the path (it used to become a sibling "/?q").
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x?y", "?sig=2"),
            "http://a:1/v2/blobs/x?sig=2"
        );
        assert_eq!(
            resolve_target("http://a/v2/blobs/x", "../../c"),
            "http://a/c"
        );
        assert_eq!(display_url("http://a/b?sig=secret"), "http://a/b");
        assert_eq!(display_url("https://u:pw@h:1/p@x?q"), "https://h:1/p@x");
    }
}
