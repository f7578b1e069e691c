//! Compare version pairs from standard input, one tab-separated pair per line, printing -1, 0,
//! 1 or `invalid` per line: a way to check a scheme against another implementation.
//!
//! ```sh
//! printf '1.0~rc1\t1.0\n' | cargo run -p clair-version --example compare -- dpkg
//! ```

use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scheme: clair_version::Scheme = std::env::args().nth(1).unwrap_or_default().parse()?;
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        let (a, b) = line.split_once('\t').ok_or("want a tab-separated pair")?;
        match scheme.compare(a, b) {
            Ok(o) => writeln!(out, "{}", o as i8)?,
            Err(_) => writeln!(out, "invalid")?,
        }
    }
    Ok(())
}
