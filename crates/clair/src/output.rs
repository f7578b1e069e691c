//! Human-readable output.

use std::io::{self, Write};

use clair_indexer::Indexed;
use clair_layer::Image;

/// Write an index report as a table: the distribution, then one row per package.
pub fn index_table(out: &mut impl Write, image: &Image, indexed: &Indexed) -> io::Result<()> {
    let r = &indexed.report;
    writeln!(out, "Image:        {} ({})", image.reference, image.format)?;
    writeln!(out, "Manifest:     {}", r.manifest_hash)?;
    match r.distributions.values().next() {
        Some(d) => {
            let name = if d.pretty_name.is_empty() {
                &d.name
            } else {
                &d.pretty_name
            };
            writeln!(
                out,
                "Distribution: {name} (id {}, version {})",
                d.did, d.version_id
            )?;
        }
        None => writeln!(out, "Distribution: unknown")?,
    }
    writeln!(out, "Packages:     {}", r.packages.len())?;
    writeln!(out)?;
    let layer_no = |d: &clair_types::Digest| {
        indexed
            .layers
            .iter()
            .position(|l| l == d)
            .map_or("?".to_string(), |i| (i + 1).to_string())
    };
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (id, p) in &r.packages {
        let env = r.environments.get(id).and_then(|e| e.first());
        let source = p.source.as_ref().map_or(String::new(), |s| {
            if s.name == p.name && s.version == p.version {
                String::new()
            } else if s.version == p.version {
                s.name.clone()
            } else {
                format!("{} {}", s.name, s.version)
            }
        });
        rows.push([
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            source,
            env.map_or(String::new(), |e| layer_no(&e.introduced_in)),
            env.map_or(String::new(), |e| e.package_db.clone()),
        ]);
    }
    rows.sort();
    let header = ["NAME", "VERSION", "ARCH", "SOURCE", "LAYER", "DATABASE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header)?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}
