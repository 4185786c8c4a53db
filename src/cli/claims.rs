//! `superlinear claims [--claim ID] [--records DIR] [--seed S] [--cases N]
//! [--json] [--details] [--write]`: both verdict lines of every claim
//! ([`superlinear::reproduce::evidence`]); `--write` regenerates the README's
//! claim table and the status fields of `theory/claims.toml`
//! ([`superlinear::reproduce::claim_docs`]). Exit code: `superlinear::exit`.

use anyhow::{bail, Result};
use clap::Args;

use superlinear::claims::evidence::Line;
use superlinear::reproduce::claim_docs::write_documents;
use superlinear::reproduce::evidence::{claims_evidence, EvidenceReport, EvidenceSettings};

use super::shared::{ChecksArgs, RecordsArgs};

#[derive(Debug, Args)]
#[command(
    mut_arg("seed", |a| a.help("Master seed of the synthetic checks (as `verify`)")),
    mut_arg("cases", |a| a.help("Random cases each synthetic property check draws (as `verify`)"))
)]
pub struct ClaimsArgs {
    #[command(flatten)]
    pub checks: ChecksArgs,
    /// Only this claim (e.g. C9).
    #[arg(long)]
    pub claim: Option<String>,
    #[command(flatten)]
    pub sources: RecordsArgs,
    /// Print JSON (schema_version, provenance, settings, both lines per claim).
    #[arg(long)]
    pub json: bool,
    /// Print each line's details under it.
    #[arg(long)]
    pub details: bool,
    /// Regenerate README.md's claim table and theory/claims.toml's status
    /// fields in the current directory (default seed, cases and records only).
    #[arg(long)]
    pub write: bool,
}

pub fn run(args: ClaimsArgs) -> Result<i32> {
    let checks = args.checks.settings()?;
    if args.write {
        let defaults = EvidenceSettings::default();
        if args.claim.is_some()
            || checks.seed != defaults.checks.seed
            || checks.cases != defaults.checks.cases
            || args.sources.records != defaults.records
            || args.sources.net_config != defaults.net_config
            || args.sources.table1_config != defaults.table1_config
            || args.sources.net_k3_config != defaults.net_k3_config
        {
            bail!("--write: the documents are generated at the default --seed, --cases and --records for every claim; drop --claim and those flags");
        }
    }
    let settings = args.sources.evidence(checks, args.claim);
    let report = claims_evidence(&settings)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, args.details));
    }
    if args.write {
        let changed = write_documents(&report, std::path::Path::new("."))?;
        if changed.is_empty() {
            eprintln!("README.md and theory/claims.toml already agree with the checks");
        } else {
            eprintln!("rewrote {}", changed.join(", "));
        }
    }
    Ok(report.exit_code)
}

fn render(r: &EvidenceReport, details: bool) -> String {
    let mut s = format!(
        "superlinear claims (seed {}, cases {}, records {})\n",
        r.settings.checks.seed,
        r.settings.checks.cases,
        r.settings.records.display()
    );
    for c in &r.claims {
        s.push_str(&format!("{}  {} ({})\n", c.id, c.title, c.paper_ref));
        if details {
            let tests = superlinear::claims::ClaimStatement {
                title: c.title.clone(),
                formula: c.formula.clone(),
                statement: c.statement.clone(),
                symbols: c.symbols.clone(),
            };
            s.push_str(&tests.render("    "));
        }
        for (name, line) in [("derivation", &c.derivation), ("networks", &c.networks)] {
            s.push_str(&render_line(name, line, details));
        }
    }
    let count = |name: &str, f: fn(&superlinear::reproduce::evidence::ClaimEvidence) -> &Line| {
        let words: Vec<String> = superlinear::claims::Status::ALL
            .iter()
            .map(|st| {
                let n = r.claims.iter().filter(|c| f(c).status == *st).count();
                format!("{n} {st}")
            })
            .collect();
        format!("{name}: {}\n", words.join(", "))
    };
    s.push_str(&count("derivation", |c| &c.derivation));
    s.push_str(&count("networks", |c| &c.networks));
    s
}

fn render_line(name: &str, line: &Line, details: bool) -> String {
    let mut s = format!(
        "    {name:<10}  {:<21}  {}\n",
        line.status.as_str(),
        line.summary
    );
    if details {
        for d in &line.details {
            s.push_str(&format!("        - {d}\n"));
        }
        if !line.source.is_empty() {
            s.push_str(&format!("        from: {}\n", line.source));
        }
    }
    s
}
