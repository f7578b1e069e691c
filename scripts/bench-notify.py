#!/usr/bin/env python3
"""Benchmark notifications: time from an update operation's commit to the last webhook.

    scripts/bench-notify.py [--write docs/benchmarks.md]
    scripts/bench-notify.py --quick   # CI: debug build, 200 manifests, nothing written

`examples/bench_notify.rs` stores 10 000 index reports (the real bookworm-minbase report under
10 000 digests, 1 000 of them with one extra package), commits a feed change that adds a
vulnerability of that package, computes the notification (the store's reverse index finds the
1 000 manifests; each is matched with the report logic) and delivers the webhook to a local
receiver. Both summary modes; a fresh SQLite database each. Target: under 10 s.
"""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))
from benchdoc import parser, publish  # noqa: E402


def main():
    ap = parser(__doc__, "CI mode: debug build, small inputs, nothing written")
    a = ap.parse_args()
    size = ["--manifests", "200", "--touched", "20"] if a.quick else []
    if a.quick:
        a.write = None
    profile = [] if a.quick else ["--release"]
    subprocess.run(["cargo", "build", *profile, "--locked", "-q", "-p", "clair", "--example", "bench_notify"],
                   cwd=ROOT, check=True)
    bench = ROOT / "target" / ("debug" if a.quick else "release") / "examples/bench_notify"
    image = f"oci:{SHARED / 'images/oci'}:bookworm-minbase"
    rows = []
    for extra in ([], ["--no-summary"]):
        with tempfile.TemporaryDirectory(prefix="clair-bench-notify-") as d:
            r = subprocess.run([str(bench), "--db", f"{d}/clair.db", "--image", image, *size, *extra],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"bench_notify failed:\n{r.stderr}")
            rows.append(json.loads(r.stdout))
    lines = [
        f"### Notifications ({time.strftime('%Y-%m-%d')})",
        "",
        f"{rows[0]['manifests']} indexed manifests (bookworm-minbase's report), {rows[0]['touched']} of them affected by "
        "a feed change; time from the update operation's commit to the last webhook received by a local receiver. "
        "SQLite. Target: under 10 s.",
        "",
        "| mode | items | webhooks | compute s | commit → last webhook s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        mode = "summary (one per manifest)" if r["summary"] else "disable_summary"
        lines.append(f"| {mode} | {r['items']} | {r['webhooks']} | {r['compute_s']:.2f} | {r['commit_to_last_webhook_s']:.2f} |")
    lines += ["", f"Storing the {rows[0]['manifests']} reports took {rows[0]['load_s']:.1f} s (not part of the measure).",
              "", "Command: `scripts/bench-notify.py --write docs/benchmarks.md`"]
    text = "\n".join(lines)
    publish(text, a.write, "bench-notify")


if __name__ == "__main__":
    main()
