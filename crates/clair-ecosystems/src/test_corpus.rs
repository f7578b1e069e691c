//! Locating the shared test corpus (`../shared/` beside the workspace) from tests.

use std::path::PathBuf;

/// `../shared/corpus/<rel>` relative to the workspace root.
pub(crate) fn corpus(rel: &str) -> PathBuf {
    shared().join("corpus").join(rel)
}

/// The shared data directory beside the workspace root.
pub(crate) fn shared() -> PathBuf {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = ws.join("../shared");
    assert!(
        p.join("corpus/EXPECTED.md").is_file(),
        "shared test data not found at {} (it lives beside the project root)",
        p.display()
    );
    p
}

/// The example `name` `version` pairs EXPECTED.md lists for a file (the row whose first cell is
/// `` `rel` ``).
pub(crate) fn expected_examples(rel: &str) -> Vec<(String, String)> {
    let md = std::fs::read_to_string(shared().join("corpus/EXPECTED.md")).expect("EXPECTED.md");
    let key = format!("| `{rel}` |");
    let Some(row) = md.lines().find(|l| l.starts_with(&key)) else {
        return Vec::new();
    };
    let cells: Vec<&str> = row.split(" | ").collect();
    // | file | format | records | installed | examples | how verified |
    let examples = cells.get(4).copied().unwrap_or("");
    let ticks: Vec<&str> = examples.split('`').skip(1).step_by(2).collect();
    ticks
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_string(), c[1].to_string()))
        .collect()
}
