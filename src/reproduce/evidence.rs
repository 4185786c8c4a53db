//! `superlinear claims`: the two verdict lines of every claim C1-C15
//! (`crate::claims::evidence`), both computed, never typed by hand:
//!
//! - **derivation**: the claim's synthetic check from the registry
//!   (`crate::claims::run_all`, as `verify` runs it, same seed and cases);
//!   a claim without one is `unchecked` and names the command that checks it
//!   on networks.
//! - **networks**: the premise and the empirical statement on trained
//!   networks, judged from the committed records under `--records`
//!   (default `experiments/results`): C14's five statements and C9's
//!   `1 <= gamma <= 2` from Table 1 at the paper's premise (grid v2,
//!   `table1-v2/` under the config `--table1-config`, default
//!   `experiments/table1-v2.toml`: rows scored on their premise seeds, rows
//!   below it not reproduced, rows without records not run, judged by
//!   `crate::claims::c14::judge_seeded`, as `net-grid --report-only` writes
//!   them in its RESULTS.md); C6, C7, C13, C15 from the net-claims
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

use super::netgrid::config::NetGridConfig;
use super::netgrid::record::load_all;
use super::ReproduceError;
use crate::claims::evidence::{exit_code, Line, Status};
use crate::claims::report::Provenance;
use crate::claims::{registry, run_all, Catalogue, CheckSettings, ClaimKind};

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
    /// Directory of the committed records (`table1-v2/`, `net/`, `net-k3/`).
    pub records: PathBuf,
    /// The net-claims grid's config (`experiments/netgrid.toml`).
    pub net_config: PathBuf,
    /// Table 1 at the premise: its config (`experiments/table1-v2.toml`).
    pub table1_config: PathBuf,
    /// The net-claims grid at K = 3 (`experiments/netgrid-k3.toml`; records
    /// under `net-k3/`, its families judged as `<data>-<model>-k3-<loss>`).
    pub net_k3_config: PathBuf,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        EvidenceSettings {
            checks: CheckSettings::default(),
            only: None,
            records: PathBuf::from(RECORDS_DIR),
            net_config: PathBuf::from(super::netgrid::NETGRID_TOML),
            table1_config: PathBuf::from(super::netgrid::TABLE1_V2_TOML),
            net_k3_config: PathBuf::from(NET_K3_TOML),
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
        table1_lines(&s.records.join(TABLE1_DIR), &s.table1_config)?
    } else {
        (Line::unchecked(""), Line::unchecked(""))
    };
    let mut net = net_grid_lines(&[
        (s.records.join("net"), s.net_config.clone()),
        (s.records.join(NET_K3_DIR), s.net_k3_config.clone()),
    ])?;
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

/// Where grid v2's records live under the records directory.
pub const TABLE1_DIR: &str = "table1-v2";

/// C14's and C9's network lines from Table 1 at the premise: the records
/// under `dir` of the grid `config` (module doc); both `unchecked`, with
/// the reason, when the config is missing or no record exists.
pub fn table1_lines(dir: &Path, config: &Path) -> Result<(Line, Line), ReproduceError> {
    let unchecked = |why: String| Ok((Line::unchecked(why.clone()), Line::unchecked(why)));
    if !config.exists() {
        return unchecked(format!("no Table 1 grid config at {}", config.display()));
    }
    let config = NetGridConfig::load(config)?;
    let stored = load_all(dir, &config, &crate::progress::Silent);
    if stored.runs.is_empty() {
        return unchecked(format!("no Table 1 grid records under {}", dir.display()));
    }
    Ok((
        super::netgrid::table1::c14_line(&config, &stored),
        super::netgrid::table1::c9_line(&config, &stored),
    ))
}

/// The K = 3 net-claims grid's config.
pub const NET_K3_TOML: &str = "experiments/netgrid-k3.toml";

/// Where its records live under the records directory.
pub const NET_K3_DIR: &str = "net-k3";

/// The network lines of the net-claims grid's claims from the records of
/// each `(dir, config)` grid (the K = 10 grid first), judged together by
/// `crate::claims::netgrid` over every family and seed: a family of a grid
/// at another K than the first's counts as its own family
/// `<data>-<model>-k<K>-<loss>`.
/// A grid whose config is missing adds nothing (the first's absence makes
/// every line `unchecked`, with the reason); without records every line is
/// `unchecked`.
pub fn net_grid_lines(
    grids: &[(PathBuf, PathBuf)],
) -> Result<BTreeMap<String, Line>, ReproduceError> {
    let unchecked = |why: String| {
        NET_GRID_CLAIMS
            .iter()
            .map(|id| (id.to_string(), Line::unchecked(why.clone())))
            .collect()
    };
    let (mut runs, mut families, mut first_k, mut sources) =
        (Vec::new(), Vec::new(), None, Vec::new());
    for (i, (dir, config)) in grids.iter().enumerate() {
        if !config.exists() {
            if i == 0 {
                return Ok(unchecked(format!(
                    "no net-grid config at {}",
                    config.display()
                )));
            }
            continue;
        }
        let config = NetGridConfig::load(config)?;
        let k = config.pilot_classes();
        let first = *first_k.get_or_insert(k);
        // `<data>-<model>-k<K>-<loss>`: C13's CE-vs-MSE pairing reads the
        // loss from the suffix.
        let label = |id: &str| match id.rsplit_once('-') {
            Some((head, loss)) if k != first => format!("{head}-k{k}-{loss}"),
            _ => id.to_string(),
        };
        let stored = load_all(dir, &config, &crate::progress::Silent);
        sources.push(format!(
            "{}/<family>/seed-<s>.json{}",
            dir.display(),
            if k == first {
                String::new()
            } else {
                format!(" (families -k{k}-)")
            }
        ));
        families.extend(config.family_ids().iter().map(|id| label(id)));
        runs.extend(stored.runs.into_iter().map(|mut r| {
            r.config.family = label(&r.config.family);
            r
        }));
    }
    if runs.is_empty() {
        return Ok(unchecked(format!(
            "no net-grid records under {}",
            grids
                .iter()
                .map(|(d, _)| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    Ok(super::netgrid::net_grid_lines(
        &runs,
        &families,
        &sources.join(" and "),
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
