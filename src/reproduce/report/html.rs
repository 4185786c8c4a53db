//! The report as one HTML page (well-formed XML as well, so any XML parser
//! reads it): provenance, the claims table, claim by claim with its lines'
//! details and figures (`figures/NAME.svg`, referenced relatively), Tables 1
//! and 3 published beside measured, and what could not be drawn. No script,
//! no stylesheet or font from the network, no timestamp.

use super::sources::TABLE1_V2_RECORDS;
use super::Report;
use crate::claims::evidence::Line;
use crate::claims::Status;
use crate::reproduce::netgrid::table1::{
    TABLE1_HEADER, TABLE1_PRIMARY, TABLE3_HEADER, TABLE3_TEXT,
};

/// `s` with `&`, `<`, `>` and `"` escaped.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
table{border-collapse:collapse;margin:1em 0;font-size:0.88em}\
th,td{border:1px solid #ccc;padding:0.25em 0.5em;vertical-align:top;text-align:left}\
th{background:#f2f2f2}\
.status{font-weight:bold;white-space:nowrap}\
.verified{color:#0a7d3c}.counterexample{color:#b00020}.not-reproduced{color:#b35c00}\
.insufficient-evidence{color:#7a6a00}.unchecked{color:#666}\
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}\
figcaption{font-size:0.88em;color:#444;max-width:900px}\
details{font-size:0.88em;margin:0.2em 0 0.8em 1em}code{font-size:0.92em}\
section{border-top:1px solid #e4e4e4;margin-top:1.5em}";

fn status(s: Status) -> String {
    format!(
        "<span class=\"status {}\">{}</span>",
        s.as_str().replace(' ', "-"),
        escape(s.as_str())
    )
}

fn line(name: &str, l: &Line) -> String {
    let mut h = format!(
        "<p><b>{name}</b>: {} {}</p>\n",
        status(l.status),
        escape(&l.summary)
    );
    if !l.details.is_empty() || !l.source.is_empty() {
        h.push_str("<details><summary>details</summary><ul>\n");
        for d in &l.details {
            h.push_str(&format!("<li>{}</li>\n", escape(d)));
        }
        if !l.source.is_empty() {
            h.push_str(&format!(
                "<li>from: <code>{}</code></li>\n",
                escape(&l.source)
            ));
        }
        h.push_str("</ul></details>\n");
    }
    h
}

fn table<'a>(header: &[&str], rows: impl Iterator<Item = Vec<&'a str>>) -> String {
    let mut h = String::from("<table>\n<tr>");
    for c in header {
        h.push_str(&format!("<th>{}</th>", escape(c)));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            h.push_str(&format!("<td>{}</td>", escape(c)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

/// `s` escaped, with its `code` spans (between backticks) as `<code>`.
fn with_code(s: &str) -> String {
    escape(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// `v` comma-separated.
fn list(v: &[u64]) -> String {
    v.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page.
pub fn page(r: &Report) -> String {
    let e = &r.evidence;
    let mut h = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>superlinear: the executable appendix</title>\n");
    h.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    h.push_str("<h1>superlinear: the executable appendix</h1>\n");
    h.push_str("<p>Zhang, Yang, Tu (2026), <i>On the Superlinear Relationship between SGD Noise Covariance and Loss Landscape Curvature</i>, claim by claim: every claim has two verdict lines, the <b>derivation</b> (its synthetic check) and the <b>networks</b> line (judged from the committed records), computed by the same code as <code>superlinear claims</code>. The figures are drawn from the committed records only.</p>\n");

    h.push_str("<h2 id=\"provenance\">Provenance</h2>\n<table>\n");
    let row = |k: &str, v: String| format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(k), v);
    h.push_str(&row(
        "rendered by",
        escape(&format!(
            "{} {} (git {})",
            e.provenance.tool, e.provenance.version, e.provenance.git_commit
        )),
    ));
    h.push_str(&row(
        "synthetic checks",
        escape(&format!(
            "seed {}, cases {}",
            e.settings.checks.seed, e.settings.checks.cases
        )),
    ));
    h.push_str(&row(
        "records",
        format!(
            "<code>{}</code>",
            escape(&e.settings.records.display().to_string())
        ),
    ));
    h.push_str(&row(
        "seeds",
        escape(&format!(
            "Table 1 at the premise: {}; net-claims grid: {}",
            list(&r.seeds.0),
            list(&r.seeds.1)
        )),
    ));
    let mut whats: Vec<&str> = r.sources.iter().map(|s| s.what.as_str()).collect();
    whats.dedup();
    for what in whats {
        let commits: Vec<String> = r
            .sources
            .iter()
            .filter(|s| s.what == what)
            .map(|s| format!("<code>{}</code> ({})", escape(&s.commit), s.count))
            .collect();
        h.push_str(&row(
            &format!("git commits recorded in the {what}, with record counts"),
            commits.join(", "),
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2 id=\"claims\">Claims</h2>\n<table>\n<tr><th>claim</th><th>statement</th><th>derivation</th><th>networks</th></tr>\n");
    for c in &e.claims {
        h.push_str(&format!(
            "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1} <small>({2})</small></td><td>{3}<br/>{4}</td><td>{5}<br/>{6}</td></tr>\n",
            escape(&c.id),
            escape(&c.title),
            escape(&c.paper_ref),
            status(c.derivation.status),
            escape(&c.derivation.summary),
            status(c.networks.status),
            escape(&c.networks.summary)
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2 id=\"by-claim\">Claim by claim</h2>\n");
    for c in &e.claims {
        h.push_str(&format!(
            "<section id=\"{0}\">\n<h3>{0}: {1}</h3>\n<p><small>{2}; {3:?}</small></p>\n",
            escape(&c.id),
            escape(&c.title),
            escape(&c.paper_ref),
            c.kind
        ));
        h.push_str(&line("derivation", &c.derivation));
        h.push_str(&line("networks", &c.networks));
        for f in r.figures.iter().filter(|f| f.claims.contains(&c.id)) {
            h.push_str(&format!(
                "<figure><img src=\"figures/{0}\" alt=\"{1}\"/><figcaption>{1}</figcaption></figure>\n",
                escape(&f.file),
                escape(&f.caption)
            ));
        }
        h.push_str("</section>\n");
    }

    h.push_str(
        "<h2 id=\"table1\">Table 1 at the paper's premise: published beside measured</h2>\n",
    );
    h.push_str(&format!("<p>Grid v2's records (<code>{TABLE1_V2_RECORDS}</code>, written by <code>superlinear net-grid --config experiments/table1-v2.toml</code>; rules in <code>theory/table1-v2-preregistration.md</code>), the rows of its <code>RESULTS.md</code>, from which C14's and C9's verdict lines above are judged: per row, the seeds meeting the premise with their final training accuracies, and over them the mean +- std of gamma and gamma_awd at the last checkpoint in the primary top-k column (the paper's ratio k/N applied to the row's N); published numbers from <code>experiments/published.toml</code>. The second top-k column (the paper's absolute k), each seed's bootstrap interval and gamma(k) are in <code>{TABLE1_V2_RECORDS}RESULTS.md</code>. A row is scored when at least {} of its seeds meet the premise.</p>\n", crate::claims::c14::MIN_PREMISE_SEEDS));
    let header: Vec<&str> = TABLE1_PRIMARY.iter().map(|&i| TABLE1_HEADER[i]).collect();
    h.push_str(&table(
        &header,
        r.table1.iter().map(|row| {
            TABLE1_PRIMARY
                .iter()
                .map(|&i| row.cells[i].as_str())
                .collect()
        }),
    ));
    if !r.not_scored.is_empty() {
        h.push_str("<p>Rows not scored (the published value only):</p>\n<ul>\n");
        for n in &r.not_scored {
            h.push_str(&format!("<li>{}</li>\n", escape(n)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<h2 id=\"table3\">Table 3 (Eq. 58) on the MSE rows: published beside measured</h2>\n",
    );
    h.push_str(&format!(
        "<p>{} From grid v2's records (<code>{TABLE1_V2_RECORDS}</code>), as its <code>RESULTS.md</code> has it.</p>\n",
        with_code(TABLE3_TEXT)
    ));
    h.push_str(&table(
        &TABLE3_HEADER,
        r.table3
            .iter()
            .map(|row| row.iter().map(String::as_str).collect()),
    ));
    if !r.missing.is_empty() {
        h.push_str("<h2 id=\"missing\">Not drawn</h2>\n<ul>\n");
        for m in &r.missing {
            h.push_str(&format!("<li>{}</li>\n", escape(m)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}
