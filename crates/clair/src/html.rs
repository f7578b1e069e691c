//! `--format html`: one self-contained page (styles and script inline, nothing fetched), for
//! a scan and for a diff. Rows are rendered here, so the page reads without script; the
//! script only sorts (click a column heading) and filters (text, minimum severity, fixable;
//! also from the URL fragment, `#q=openssl&severity=4&fixable=1&sort=2&desc=1`, so a view is a
//! link).

use std::fmt::Write;

use clair_types::Severity;

use crate::commands::scan::{Scanned, has_fix};

/// Text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1d2330;background:#fff}
h1{font-size:1.4rem;margin:0 0 .8rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.6rem 0}
.card{border:1px solid #d5d9e2;border-radius:6px;padding:.5rem .9rem;min-width:6.5rem}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e3e6ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f8;position:sticky;top:0}
table.findings th{cursor:pointer;user-select:none}
table.findings th[aria-sort=ascending]::after{content:" \25B2"}
table.findings th[aria-sort=descending]::after{content:" \25BC"}
td.num,th.num{text-align:right}
.sev{display:inline-block;border-radius:4px;padding:0 .4rem;font-weight:600;font-size:.8rem}
.sev-Critical{background:#7a0014;color:#fff}.sev-High{background:#d1242f;color:#fff}
.sev-Medium{background:#f0a020;color:#1d2330}.sev-Low{background:#ffe08a;color:#1d2330}
.sev-Negligible,.sev-Unknown{background:#dfe3ea;color:#1d2330}
.controls{display:flex;flex-wrap:wrap;gap:.8rem;align-items:center;margin:.5rem 0}
.controls input[type=search]{min-width:18rem;padding:.25rem .4rem}
details pre{white-space:pre-wrap;margin:.3rem 0;font-size:.8rem;background:#f6f8fa;padding:.4rem}
.muted{color:#5b6474}
"#;

const SCRIPT: &str = r#"
(function(){
  var filter=document.getElementById('filter'),sev=document.getElementById('severity'),
      fix=document.getElementById('fixable');
  function apply(){
    var q=(filter.value||'').toLowerCase(),min=parseInt(sev.value||'0',10),only=fix.checked;
    document.querySelectorAll('table.findings').forEach(function(t){
      var shown=0,total=0;
      t.querySelectorAll('tbody tr').forEach(function(r){
        total++;
        var ok=r.textContent.toLowerCase().indexOf(q)>=0
          &&parseInt(r.dataset.severity,10)>=min&&(!only||r.dataset.fixable==='1');
        r.hidden=!ok;if(ok)shown++;
      });
      var c=document.getElementById(t.id+'-shown');
      if(c)c.textContent=shown+' of '+total+' shown';
    });
  }
  [filter,sev,fix].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
  document.querySelectorAll('table.findings th').forEach(function(th,_){
    th.addEventListener('click',function(){
      var t=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th),
          asc=th.getAttribute('aria-sort')!=='ascending',body=t.tBodies[0];
      t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].dataset.sort||a.cells[i].textContent,y=b.cells[i].dataset.sort||b.cells[i].textContent,
            nx=parseFloat(x),ny=parseFloat(y),r;
        r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
        return asc?r:-r;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  // A view can be linked: #q=TEXT&severity=N&fixable=1&sort=COLUMN&desc=1.
  var h=new URLSearchParams((location.hash||'').slice(1));
  if(h.get('q'))filter.value=h.get('q');
  if(h.get('severity'))sev.value=h.get('severity');
  if(h.get('fixable')==='1')fix.checked=true;
  if(h.get('sort'))document.querySelectorAll('table.findings').forEach(function(t){
    var th=t.querySelectorAll('th')[parseInt(h.get('sort'),10)];
    if(th){th.click();if(h.get('desc')==='1')th.click();}
  });
  apply();
})();
"#;

/// The page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(title)
    )
}

/// The filter controls shared by every findings table of a page.
fn controls() -> String {
    let mut o = String::from(
        "<div class=\"controls\"><input id=\"filter\" type=\"search\" \
         placeholder=\"Filter: package, version, vulnerability, layer\" aria-label=\"Filter\">\
         <select id=\"severity\" aria-label=\"Minimum severity\"><option value=\"0\">All severities</option>",
    );
    for s in Severity::ALL.iter().skip(1) {
        let _ = write!(o, "<option value=\"{}\">{s} and above</option>", rank(*s));
    }
    o.push_str(
        "</select><label><input type=\"checkbox\" id=\"fixable\"> Fixable only</label></div>",
    );
    o
}

fn rank(s: Severity) -> usize {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn badge(s: Severity) -> String {
    format!("<span class=\"sev sev-{s}\">{s}</span>")
}

/// One row of a findings table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub package: String,
    pub version: String,
    pub vulnerability: String,
    pub link: String,
    pub severity: Severity,
    pub cvss: Option<f64>,
    pub fixed_in: String,
    /// 1-based layer number, when known.
    pub layer: Option<usize>,
    /// The digest of the layer that introduced the package.
    pub layer_digest: String,
    pub explanation: String,
    /// For suppressed findings: status and why.
    pub note: String,
}

/// A sortable, filterable table of findings; `id` names it for the shown-count.
pub fn findings_table(id: &str, rows: &[Row], with_note: bool) -> String {
    let mut o = format!(
        "<p class=\"muted\" id=\"{id}-shown\">{n} of {n} shown</p>\
         <table class=\"findings\" id=\"{id}\"><thead><tr><th>Package</th><th>Version</th>\
         <th>Vulnerability</th><th>Severity</th><th class=\"num\">CVSS</th><th>Fixed in</th>\
         <th class=\"num\">Layer</th><th>{}</th></tr></thead><tbody>",
        if with_note { "Status" } else { "Why" },
        n = rows.len()
    );
    for r in rows {
        let fixable = has_fix(&r.fixed_in);
        let vuln = if r.link.is_empty() {
            esc(&r.vulnerability)
        } else {
            format!(
                "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
                esc(&r.link),
                esc(&r.vulnerability)
            )
        };
        let last = if with_note {
            esc(&r.note)
        } else if r.explanation.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>explain</summary><pre>{}</pre></details>",
                esc(&r.explanation)
            )
        };
        let _ = write!(
            o,
            "<tr data-severity=\"{}\" data-fixable=\"{}\"><td>{}</td><td>{}</td><td>{vuln}</td>\
             <td data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td>{}</td>\
             <td class=\"num\" data-sort=\"{}\">{}</td><td>{last}</td></tr>",
            rank(r.severity),
            u8::from(fixable),
            esc(&r.package),
            esc(&r.version),
            rank(r.severity),
            badge(r.severity),
            r.cvss.unwrap_or(-1.0),
            r.cvss.map_or(String::new(), |c| format!("{c:.1}")),
            if fixable {
                esc(&r.fixed_in)
            } else {
                "<span class=\"muted\">no fix</span>".into()
            },
            r.layer.unwrap_or(0),
            r.layer.map_or(String::new(), |l| l.to_string()),
        );
    }
    o.push_str("</tbody></table>");
    o
}

/// Severity cards: count per severity with how many are fixable.
fn severity_summary(rows: &[Row]) -> String {
    let mut o = String::from(
        "<table id=\"by-severity\"><thead><tr><th>Severity</th><th class=\"num\">Findings</th>\
         <th class=\"num\">Fixable</th><th class=\"num\">Not fixable</th></tr></thead><tbody>",
    );
    for s in Severity::ALL.iter().rev() {
        let all = rows.iter().filter(|r| r.severity == *s).count();
        if all == 0 {
            continue;
        }
        let fixable = rows
            .iter()
            .filter(|r| r.severity == *s && has_fix(&r.fixed_in))
            .count();
        let _ = write!(
            o,
            "<tr data-severity-row=\"{s}\"><td>{}</td><td class=\"num\">{all}</td>\
             <td class=\"num\">{fixable}</td><td class=\"num\">{}</td></tr>",
            badge(*s),
            all - fixable
        );
    }
    let fixable = rows.iter().filter(|r| has_fix(&r.fixed_in)).count();
    let _ = write!(
        o,
        "<tr><th>Total</th><th class=\"num\" id=\"total\">{}</th><th class=\"num\" id=\"total-fixable\">{fixable}</th>\
         <th class=\"num\">{}</th></tr></tbody></table>",
        rows.len(),
        rows.len() - fixable
    );
    o
}

/// Per layer: its digest, how many findings its packages bring, by severity.
fn layer_summary(rows: &[Row], layers: &[clair_types::Digest]) -> String {
    let mut o = String::from(
        "<table id=\"by-layer\"><thead><tr><th class=\"num\">Layer</th><th>Digest</th>\
         <th class=\"num\">Findings</th>",
    );
    let sevs: Vec<Severity> = Severity::ALL.iter().rev().copied().collect();
    for s in &sevs {
        let _ = write!(o, "<th class=\"num\">{s}</th>");
    }
    o.push_str("</tr></thead><tbody>");
    for (i, d) in layers.iter().enumerate() {
        let n = i + 1;
        let in_layer: Vec<&Row> = rows.iter().filter(|r| r.layer == Some(n)).collect();
        let _ = write!(
            o,
            "<tr><td class=\"num\">{n}</td><td><code>{}</code></td><td class=\"num\">{}</td>",
            esc(&d.to_string()),
            in_layer.len()
        );
        for s in &sevs {
            let c = in_layer.iter().filter(|r| r.severity == *s).count();
            let _ = write!(o, "<td class=\"num\">{c}</td>");
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

fn meta(items: &[(&str, String)]) -> String {
    let mut o = String::from("<dl class=\"meta\">");
    for (k, v) in items {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    o.push_str("</dl>");
    o
}

/// Layer number (1-based) of a digest in `layers`.
pub fn layer_no(layers: &[clair_types::Digest], d: &clair_types::Digest) -> Option<usize> {
    layers.iter().position(|l| l == d).map(|i| i + 1)
}

/// The rows of a scan: findings with their explanations, and the suppressed ones.
pub fn scan_rows(s: &Scanned) -> (Vec<Row>, Vec<Row>) {
    let r = &s.report;
    let row = |pid: &str,
               vid: &str,
               v: &clair_types::ReportVulnerability,
               p: &clair_types::ReportPackage| Row {
        package: p.name.clone(),
        version: p.version.clone(),
        vulnerability: v.name.clone(),
        link: v
            .links
            .split_whitespace()
            .find(|l| l.starts_with("https://") || l.starts_with("http://"))
            .unwrap_or("")
            .to_string(),
        // The feed's severity, else NVD's CVSS rating, as `clair scan` ranks and gates.
        severity: crate::output::effective_severity(r, vid, v),
        cvss: crate::output::cvss_score(r, vid),
        fixed_in: v.fixed_in_version.clone(),
        layer: r
            .environments
            .get(pid)
            .and_then(|e| e.first())
            .and_then(|e| layer_no(&s.indexed.layers, &e.introduced_in)),
        layer_digest: r
            .environments
            .get(pid)
            .and_then(|e| e.first())
            .map_or(String::new(), |e| e.introduced_in.to_string()),
        explanation: s
            .explanations
            .get(&(pid.to_string(), vid.to_string()))
            .cloned()
            .unwrap_or_default(),
        note: String::new(),
    };
    let mut found: Vec<Row> = crate::output::affected_pairs(r)
        .map(|(pid, p, vid, v)| row(pid, vid, v, p))
        .collect();
    found.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.vulnerability.cmp(&b.vulnerability))
    });
    let suppressed = s
        .suppressed
        .iter()
        .map(|x| Row {
            note: format!(
                "{}{} ({})",
                x.status,
                if x.justification.is_empty() {
                    String::new()
                } else {
                    format!(": {}", x.justification)
                },
                x.source
            ),
            ..row(
                &x.package_id,
                &x.vulnerability_id,
                &x.vulnerability,
                &x.package,
            )
        })
        .collect();
    (found, suppressed)
}

/// Image, manifest, distribution and data coverage of a scan, as definition-list items.
fn scan_meta(s: &Scanned) -> Vec<(&'static str, String)> {
    let r = &s.report;
    let mut items = vec![
        (
            "Image",
            format!("{} ({})", s.image.reference, s.image.format),
        ),
        ("Manifest", r.manifest_hash.to_string()),
        (
            "Distribution",
            r.distributions
                .values()
                .next()
                .map_or("unknown".into(), |d| {
                    if d.pretty_name.is_empty() {
                        format!("{} {}", d.did, d.version_id)
                    } else {
                        d.pretty_name.clone()
                    }
                }),
        ),
        (
            "Packages",
            format!(
                "{} ({} covered by vulnerability data)",
                s.stats.packages, s.stats.packages_covered
            ),
        ),
        (
            "Data",
            if s.covered.is_empty() {
                "none".into()
            } else {
                s.covered
                    .iter()
                    .map(|(n, c)| format!("{n} ({c} records)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ];
    if !s.stats.missing_namespaces.is_empty() {
        items.push((
            "Not covered",
            format!(
                "{} (no data stored: those packages were not checked)",
                s.stats.missing_namespaces.join(", ")
            ),
        ));
    }
    items
}

/// `clair scan --format html`.
pub fn scan(s: &Scanned) -> String {
    let (found, suppressed) = scan_rows(s);
    let mut body = format!(
        "<h1>Vulnerability report: {}</h1>{}",
        esc(&s.image.reference),
        meta(&scan_meta(s))
    );
    let fixable = found.iter().filter(|r| has_fix(&r.fixed_in)).count();
    let _ = write!(
        body,
        "<div class=\"cards\"><div class=\"card\"><b id=\"count-findings\">{}</b>findings</div>\
         <div class=\"card\"><b id=\"count-fixable\">{fixable}</b>fixable</div>\
         <div class=\"card\"><b id=\"count-unfixable\">{}</b>not fixable</div>\
         <div class=\"card\"><b id=\"count-suppressed\">{}</b>suppressed</div></div>",
        found.len(),
        found.len() - fixable,
        suppressed.len()
    );
    for e in &s.expired {
        let _ = write!(
            body,
            "<p class=\"muted\">Expired ignore entry: {}</p>",
            esc(e)
        );
    }
    let _ = write!(
        body,
        "<h2>By severity</h2>{}<h2>By layer</h2>{}<h2>Findings</h2>{}{}",
        severity_summary(&found),
        layer_summary(&found, &s.indexed.layers),
        controls(),
        findings_table("findings", &found, false)
    );
    if !suppressed.is_empty() {
        let _ = write!(
            body,
            "<h2>Suppressed (VEX and ignore file)</h2>{}",
            findings_table("suppressed", &suppressed, true)
        );
    }
    page(&format!("clair scan: {}", s.image.reference), &body)
}

/// `clair diff --format html`: the two images, then introduced, fixed and unchanged findings.
pub fn diff(old: &Scanned, new: &Scanned, sections: &[(&str, &[Row])]) -> String {
    let mut body = String::from("<h1>What changed</h1>");
    body.push_str(&meta(&[
        (
            "Old",
            format!("{} ({})", old.image.reference, old.report.manifest_hash),
        ),
        (
            "New",
            format!("{} ({})", new.image.reference, new.report.manifest_hash),
        ),
    ]));
    body.push_str("<div class=\"cards\">");
    for (name, rows) in sections {
        let _ = write!(
            body,
            "<div class=\"card\"><b id=\"count-{name}\">{}</b>{name}</div>",
            rows.len()
        );
    }
    body.push_str("</div>");
    body.push_str(&controls());
    for (name, rows) in sections {
        let _ = write!(
            body,
            "<h2>{}</h2>{}",
            esc(&format!("{}{}", name[..1].to_uppercase(), &name[1..])),
            findings_table(name, rows, false)
        );
    }
    page(
        &format!(
            "clair diff: {} → {}",
            old.image.reference, new.image.reference
        ),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
