#![no_main]
//! Layer reading and stacking: arbitrary bytes as two layers (raw tar and, when the input
//! starts with a compression magic, compressed), stacked, then every selected path opened.
//! Never panics, never loops.
use clair_layer::compression::auto_decoder;
use clair_layer::extract::{ExtractLimits, extract};
use clair_layer::tar::{StreamSkip, TarReader};
use clair_layer::{FileSelector, FileView, Stack};
use libfuzzer_sys::fuzz_target;

fn layer(data: &[u8], sel: &FileSelector) -> Option<clair_layer::LayerContents> {
    let limits = ExtractLimits {
        max_file_size: 1 << 20,
        max_layer_selected: 4 << 20,
        ..ExtractLimits::default()
    };
    let (_, dec) = auto_decoder(data).ok()?;
    // Bound decompression output so bombs do not slow the fuzzer down.
    let mut tar = TarReader::new(StreamSkip(std::io::Read::take(dec, 64 << 20)), limits.tar);
    extract(&mut tar, sel, &limits).ok()
}

fuzz_target!(|data: &[u8]| {
    let mut sel = FileSelector::new();
    sel.file("etc/os-release")
        .file("usr/lib/os-release")
        .file("var/lib/dpkg/status")
        .dir_children("var/lib/dpkg/status.d");
    let split = data.len() / 2;
    let a = layer(&data[..split], &sel).unwrap_or_default();
    let b = layer(&data[split..], &sel).unwrap_or_default();
    let c = layer(data, &sel).unwrap_or_default();
    let stack = Stack::from_layers([&a, &b, &c]);
    for p in ["etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status"] {
        let _ = stack.open(p);
    }
    for p in stack.list_dir("var/lib/dpkg/status.d") {
        let _ = stack.open(&p);
    }
});
