#![no_main]
//! Request bodies, layer URLs, redirect targets and page tokens never panic the server's
//! parsers; neither do config file text, image references, registry auth challenges and the
//! secret redactor every log line passes through.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    clair_http::parse_untrusted(data);
    if let Ok(text) = std::str::from_utf8(data) {
        // Client-supplied URLs and messages pass through the log redactor.
        let _ = clair_config::redact::redact_text(text);
        let _ = clair_config::redact::passwords_in(text);
        let _ = clair_layer::source::registry::parse_reference(text);
        let _ = clair_layer::source::registry::parse_challenge(text);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(l) = clair_config::Loaded::parse(text, std::path::Path::new("fuzz.yaml"))
    {
        let _ = l.serve_config();
        let _ = l.warnings();
    }
});
