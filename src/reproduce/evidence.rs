//! `superlinear claims`: the two verdict lines of every claim C1-C15
//! (`crate::claims::evidence`), both computed, never typed by hand:
//!
//! - **derivation**: the claim's synthetic check from the registry
//!   (`crate::claims::run_all`, as `verify` runs it, same seed and cases);
//!   a claim without one is `unchecked` and names the command that checks it
//!   on networks.
//! - **networks**: the premise and the empirical statement on trained
//!   networks, judged from the committed records under `--records`
//!   (default `experiments/results`): C14's four statements and C9's
//!   `1 <= gamma <= 2` on every finite fit from the Table 1 grid
//!   (`reduced/runs/`, aggregated as `reproduce --report-only` does, runs
//!   below their training-accuracy premise listed and not scored, judged by
//!   `crate::claims::c14`, `crate::claims::c9` and folded into one line by
//!   `crate::claims::grid::grid_line`); C6, C7, C13, C15 from the net-claims
//!   grid records under `net/` ([`net_grid_lines`]); every other claim is
//!   `unchecked` with the reason it has no network line.
//!
//! The exit code follows from the lines alone (`crate::exit`): 1 when any
//! line is a counterexample. The generated parts of `README.md` and
//! `theory/claims.toml` are rendered from this report by
//! [`super::claim_docs`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::aggregate::{judgements, scored, table_rows, TableId, DEFAULT_MIN_TRAIN_PROGRESS};
use super::config::{ConfigSet, RowFilter, Scale};
use super::grid::{plan, ReproduceSettings};
use super::netgrid::config::NetGridConfig;
use super::netgrid::record::load_all;
use super::shard::Shard;
use super::ReproduceError;
use crate::claims::evidence::{exit_code, Line, Status};
use crate::claims::grid::grid_line;
use crate::claims::report::Provenance;
use crate::claims::{registry, run_all, Catalogue, CheckSettings, ClaimKind};
use crate::published::Published;

/// Version of the `claims --json` schema; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The default directory of the committed records.
pub const RECORDS_DIR: &str = "experiments/results";

/// The claims whose network line comes from the net-claims grid.
pub use crate::claims::netgrid::NET_GRID_CLAIMS;

/// Everything one `claims` call needs.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSettings {
    /// Seed and cases of the synthetic checks.
    pub checks: CheckSettings,
    /// Only this claim (an id such as `C9`), or every claim.
    pub only: Option<String>,
    /// Directory of the committed records (`reduced/runs/`, `net/`).
    pub records: PathBuf,
    /// Directory of the Table 1 grid's run configs.
    pub configs: PathBuf,
    /// The net-claims grid's config (`experiments/netgrid.toml`).
    pub net_config: PathBuf,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        EvidenceSettings {
            checks: CheckSettings::default(),
            only: None,
            records: PathBuf::from(RECORDS_DIR),
            configs: PathBuf::from(super::config::RUNS_DIR),
            net_config: PathBuf::from(super::netgrid::NETGRID_TOML),
        }
    }
}

/// One claim with its two verdict lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimEvidence {
    /// Claim id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Where in the paper (in full).
    pub paper_ref: String,
    /// identity, inequality, asymptotic or empirical.
    pub kind: ClaimKind,
    /// The claim in symbols (the catalogue's `formula`).
    pub formula: String,
    /// The claim in words.
    pub statement: String,
    /// Every symbol defined, the basis last.
    pub symbols: Vec<String>,
    /// The synthetic check's line.
    pub derivation: Line,
    /// The trained-network line.
    pub networks: Line,
}

/// The report of one `claims` call.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The build that judged.
    pub provenance: Provenance,
    /// Settings used.
    pub settings: EvidenceSettings,
    /// One entry per claim, in catalogue order.
    pub claims: Vec<ClaimEvidence>,
    /// The exit code under the one rule of `crate::exit`.
    pub exit_code: i32,
}

/// Runs the synthetic checks and judges the committed records.
pub fn claims_evidence(s: &EvidenceSettings) -> Result<EvidenceReport, ReproduceError> {
    let rows = run_all(&s.checks, s.only.as_deref())?;
    let catalogue = Catalogue::builtin()?;
    let wants_table1 = rows.iter().any(|r| r.id == "C9" || r.id == "C14");
    let (c14, c9) = if wants_table1 {
        table1_lines(&s.records, &s.configs)?
    } else {
        (Line::unchecked(""), Line::unchecked(""))
    };
    let mut net = net_grid_lines(&s.records.join("net"), &s.net_config)?;
    let checks = registry();
    let mut claims = Vec::new();
    for r in &rows {
        let entry = catalogue.get(&r.id)?;
        let derivation = if checks.iter().any(|c| c.claim == r.id) {
            r.outcome.to_line(format!(
                "superlinear verify --claim {} --seed {} --cases {}",
                r.id, s.checks.seed, s.checks.cases
            ))
        } else {
            r.outcome.to_line("")
        };
        let networks = match r.id.as_str() {
            "C14" => c14.clone(),
            "C9" => c9.clone(),
            id if NET_GRID_CLAIMS.contains(&id) => net
                .remove(id)
                .unwrap_or_else(|| Line::unchecked("no net-grid line for this claim")),
            id => Line::unchecked(no_network_line(id)),
        };
        claims.push(ClaimEvidence {
            id: r.id.clone(),
            title: entry.title.clone(),
            paper_ref: r.paper_ref.clone(),
            kind: r.kind,
            formula: r.tests.formula.clone(),
            statement: r.tests.statement.clone(),
            symbols: r.tests.symbols.clone(),
            derivation,
            networks,
        });
    }
    let exit_code = exit_code(
        claims
            .iter()
            .flat_map(|c| [c.derivation.status, c.networks.status]),
    );
    Ok(EvidenceReport {
        schema_version: SCHEMA_VERSION,
        provenance: Provenance::current(),
        settings: s.clone(),
        claims,
        exit_code,
    })
}

/// Why a claim outside C6, C7, C9, C13, C14, C15 has no network line (from
/// the statements in the paper's THEORY notes).
pub fn no_network_line(id: &str) -> &'static str {
    match id {
        "C1" => "no network records: an identity of NLL losses, checked on synthetic softmax and ReLU models",
        "C2" => "no network side: an identity in the loss scale, the same on every model",
        "C3" => "no network side: a statement about the Haar-rotation null of rho_bar (`superlinear coupling` measures a network against it)",
        "C4" => "no network side: a statement about the standard error of the Haar-rotation null",
        "C5" => "no network records: an exact identity for any fully connected layer",
        "C8" => "no network side: an exact identity of any ensemble of per-sample Hessians",
        "C10" => "no network side: a statement about perfectly aligned synthetic ensembles only",
        "C11" => "no network side: a statement about spectrally degenerate synthetic ensembles only",
        "C12" => "no network side: a statement about the random-shifts model only",
        _ => "no network check",
    }
}

/// C14's and C9's network lines from the Table 1 grid under
/// `records/reduced/runs` (module doc); both `unchecked` when it holds no
/// record.
pub fn table1_lines(records: &Path, configs: &Path) -> Result<(Line, Line), ReproduceError> {
    let out = records.join(Scale::Reduced.name());
    let runs = out.join("runs");
    let seeds = max_seed(&runs).map_or(0, |s| s as usize + 1);
    if seeds == 0 {
        let why = format!("no Table 1 grid records under {}", runs.display());
        return Ok((Line::unchecked(why.clone()), Line::unchecked(why)));
    }
    let settings = report_settings(out, configs, TableId::One, seeds)?;
    let p = plan(&settings, &crate::progress::Silent)?;
    let rows = table_rows(
        &settings.published,
        &p.rows,
        &p.records,
        TableId::One,
        settings.min_train_progress,
    );
    let judged = judgements(&rows, &scored(&p.records, settings.min_train_progress));
    let not_scored: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.below_floor
                .iter()
                .map(move |b| format!("{} {b}", r.row.label()))
        })
        .collect();
    let source = format!(
        "{} ({} records; superlinear reproduce --table 1 --scale reduced --seeds {seeds} --report-only)",
        runs.display(),
        p.records.len()
    );
    let of = |claim: &str| -> Vec<_> {
        judged
            .iter()
            .filter(|j| j.claim == claim)
            .cloned()
            .collect()
    };
    Ok((
        grid_line(&of("C14"), &not_scored, &source),
        grid_line(&of("C9"), &not_scored, &source),
    ))
}

/// The settings of `reproduce --report-only` for `table` over `seeds`
/// seeds of the records under `out` (the grid's directory, e.g.
/// `records/reduced`).
pub fn report_settings(
    out: PathBuf,
    configs: &Path,
    table: TableId,
    seeds: usize,
) -> Result<ReproduceSettings, ReproduceError> {
    Ok(ReproduceSettings {
        table,
        scale: Scale::Reduced,
        rows: RowFilter::parse("all")?,
        seeds,
        jobs: 1,
        out,
        results_md: None,
        configs: ConfigSet::load(configs)?,
        published: Published::builtin()?,
        data_root: None,
        threads: 1,
        command: String::new(),
        timings: false,
        report_only: true,
        min_train_progress: DEFAULT_MIN_TRAIN_PROGRESS,
        lr_override: None,
        shard: Shard::ALL,
    })
}

/// The largest `N` of the `*/seed-N.json` files under `runs`, if any.
pub fn max_seed(runs: &Path) -> Option<u64> {
    let rows = std::fs::read_dir(runs).ok()?;
    rows.filter_map(|e| e.ok())
        .filter_map(|row| std::fs::read_dir(row.path()).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("seed-")?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
}

/// The network lines of the net-claims grid's claims from its records under
/// `dir`, judged by `crate::claims::netgrid` over the families and seeds of
/// `config` (`experiments/netgrid.toml`). Without a config or records every
/// line is `unchecked`, with the reason.
pub fn net_grid_lines(dir: &Path, config: &Path) -> Result<BTreeMap<String, Line>, ReproduceError> {
    let unchecked = |why: String| {
        NET_GRID_CLAIMS
            .iter()
            .map(|id| (id.to_string(), Line::unchecked(why.clone())))
            .collect()
    };
    if !config.exists() {
        return Ok(unchecked(format!(
            "no net-grid config at {}",
            config.display()
        )));
    }
    let config = NetGridConfig::load(config)?;
    let stored = load_all(dir, &config, &crate::progress::Silent);
    if stored.runs.is_empty() {
        return Ok(unchecked(format!(
            "no net-grid records under {}",
            dir.display()
        )));
    }
    Ok(super::netgrid::net_grid_lines(
        &stored.runs,
        &config.family_ids(),
    ))
}

/// The statuses of the two lines of every claim, by id.
pub fn statuses(report: &EvidenceReport) -> BTreeMap<String, (Status, Status)> {
    report
        .claims
        .iter()
        .map(|c| (c.id.clone(), (c.derivation.status, c.networks.status)))
        .collect()
}
