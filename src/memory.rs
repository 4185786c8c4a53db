//! Memory plan of a layer analysis (`analyze` on one linear layer `z = W a`,
//! d = out * in, N samples, K logits, top-k directions): which route each
//! large stage takes, and how many bytes it needs at its peak, as pure
//! functions of the sizes, so an analysis can be refused (exit code 2,
//! [`Error::MemoryLimit`]) before anything large is allocated. It also
//! reads the process's own CPU time ([`process_cpu_seconds`]), which runs,
//! records and benchmarks report beside wall time.
//!
//! The budget ([`MemoryBudget::from_system`]) is `MemAvailable` of
//! `/proc/meminfo`, or the cap in the environment variable
//! [`MEMORY_LIMIT_ENV`] (`SUPERLINEAR_MEMORY_LIMIT`: bytes with an optional
//! K, M, G or T suffix in powers of 1024) when it is set; every command that
//! allocates in proportion to its arguments (training, the layer analyses,
//! the coupling nulls) checks its estimate against it first.
//!
//! Routes (the rules are the single source of truth; `crate::kron` follows
//! them):
//! - top-k eigenpairs of `H` ([`eig_route`]): dense tridiagonalisation when k
//!   is not small against d (`5 k >= d`) or d is small (`d <= 4096`: there
//!   it costs about what the Krylov route costs, measured at d = 2500, and
//!   it keeps the paper's layers on the path whose figures are recorded);
//!   else
//!   block Krylov ([`crate::linalg::krylov`]) on the dense H when it is the
//!   cheaper product (`d <= 2 N`: `2 d^2` against `4 N d` flops per column)
//!   and its `8 d^2` bytes stay within [`DENSE_H_MAX_BYTES`]; else block
//!   Krylov on the matrix-free Kronecker product;
//! - `tr C`, `||C||_F^2` ([`moment_route`]): the streamed N x N Gram
//!   (`N^2 (out + in)` flops, `O(chunk^2)` memory) when
//!   `DUAL_WEIGHT N (out + in) <= d^2`, else the d x d centred second moment
//!   (`N d^2` flops, `8 d^2` bytes);
//! - the whole spectrum of C (corrected null): through the d x d `C` when
//!   `N > d`, through the N x N dual only when `N <= d`.
//!
//! Every estimate counts `f64` buffers of the implementation (faer pads
//! column strides; ignored) plus a fixed allowance for the dense
//! eigensolver's scratch; `examples/scale_bench.rs --memory-check` compares
//! them with the measured peak resident set.

use crate::error::{Error, Result};
use crate::linalg::krylov_bytes;

/// The environment variable that caps the bytes every command may allocate
/// (module doc).
pub const MEMORY_LIMIT_ENV: &str = "SUPERLINEAR_MEMORY_LIMIT";

/// A size such as `1048576`, `512K`, `64M`, `2G`, `1T` or `1.5GiB` in bytes
/// (suffixes in powers of 1024; a trailing `B` or `iB` is allowed); None
/// when it is not one.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, shift) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 10),
        'M' | 'm' => (&t[..t.len() - 1], 20),
        'G' | 'g' => (&t[..t.len() - 1], 30),
        'T' | 't' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let x: f64 = num.trim().parse().ok()?;
    let bytes = x * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// The largest dense H the Krylov route builds (2 GiB: d up to 16,384).
pub const DENSE_H_MAX_BYTES: u64 = 2 << 30;

/// Weight of the streamed dual's flops against the primal's in
/// [`moment_route`] (its GEMMs have inner dimension out or in, so they run
/// below the primal's square GEMM speed, and each Gram entry costs a few
/// elementwise operations more).
pub const DUAL_WEIGHT: usize = 2;

/// How the top-k eigenpairs of H are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EigMethod {
    /// Pick by [`eig_route`].
    #[default]
    Auto,
    /// Dense H, tridiagonalisation, only the k wanted vectors back-transformed.
    Dense,
    /// Dense H as the operator of the block Krylov solver.
    KrylovDense,
    /// The block Krylov solver on the matrix-free Kronecker product.
    KrylovMatrixFree,
}

/// How `tr C` and `||C||_F^2` are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MomentRoute {
    /// Blocks of the centred N x N Gram matrix, streamed.
    DualStreamed,
    /// The d x d centred second moment.
    Primal,
}

/// The eigen route for the top `k` of the d x d H over N samples; a
/// `requested` method other than [`EigMethod::Auto`] is returned as is
/// (module doc for the rule).
pub fn eig_route(n: usize, d: usize, k: usize, requested: EigMethod) -> EigMethod {
    if requested != EigMethod::Auto {
        return requested;
    }
    if d <= 4096 || 5 * k >= d {
        EigMethod::Dense
    } else if d <= 2 * n && dense_bytes(d) <= DENSE_H_MAX_BYTES {
        EigMethod::KrylovDense
    } else {
        EigMethod::KrylovMatrixFree
    }
}

/// The route for `tr C`, `||C||_F^2` (module doc).
pub fn moment_route(n: usize, out: usize, inn: usize) -> MomentRoute {
    let d = (out * inn) as f64;
    if (DUAL_WEIGHT * n * (out + inn)) as f64 <= d * d {
        MomentRoute::DualStreamed
    } else {
        MomentRoute::Primal
    }
}

/// `8 n^2` bytes, saturating.
pub fn dense_bytes(n: usize) -> u64 {
    8u64.saturating_mul(n as u64).saturating_mul(n as u64)
}

/// A cap on the bytes an analysis may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// The cap in bytes.
    pub limit_bytes: u64,
}

impl MemoryBudget {
    /// No cap.
    pub fn unlimited() -> Self {
        MemoryBudget {
            limit_bytes: u64::MAX,
        }
    }

    /// The cap of [`MEMORY_LIMIT_ENV`] when it is set, else `MemAvailable`
    /// of `/proc/meminfo` (unlimited when it cannot be read); a value of the
    /// variable that is not a size is [`Error::InvalidParameter`] naming it.
    pub fn from_system() -> Result<Self> {
        if let Some(v) = std::env::var_os(MEMORY_LIMIT_ENV) {
            let text = v.to_string_lossy();
            return parse_size(&text)
                .filter(|b| *b > 0)
                .map(|limit_bytes| MemoryBudget { limit_bytes })
                .ok_or_else(|| {
                    Error::param(
                        MEMORY_LIMIT_ENV,
                        format!("{text:?}"),
                        "must be a positive byte count with an optional K, M, G or T suffix (powers of 1024), e.g. 512M",
                    )
                });
        }
        let limit = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("MemAvailable:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb.saturating_mul(1024))
            .unwrap_or(u64::MAX);
        Ok(MemoryBudget { limit_bytes: limit })
    }

    /// [`Error::MemoryLimit`] when `bytes` exceeds the cap.
    pub fn check(&self, stage: &str, bytes: u64, hint: &str) -> Result<()> {
        if bytes > self.limit_bytes {
            return Err(Error::MemoryLimit {
                stage: stage.to_string(),
                needed_bytes: bytes,
                needed_gib: bytes as f64 / (1u64 << 30) as f64,
                limit_bytes: self.limit_bytes,
                hint: hint.to_string(),
            });
        }
        Ok(())
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::unlimited()
    }
}

/// The sizes of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisShape {
    /// Samples N.
    pub samples: usize,
    /// Rows of W (outputs of the layer).
    pub out: usize,
    /// Columns of W (inputs of the layer).
    pub inn: usize,
    /// Logits K.
    pub classes: usize,
    /// Top-k directions.
    pub top_k: usize,
}

impl AnalysisShape {
    /// `d = out * in`.
    pub fn d(&self) -> usize {
        self.out * self.inn
    }
}

/// The options that change what an analysis allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisOptions {
    /// Eigen route asked for.
    pub eig: EigMethod,
    /// Krylov block size (0: default).
    pub krylov_block: usize,
    /// Krylov basis size (0: default).
    pub krylov_basis: usize,
    /// `V^T E[h^2] V` and the d x d `E[h_p^2]` (coupling of C_awd).
    pub coupling_awd: bool,
    /// Whole spectra for the corrected null.
    pub coupling_null: bool,
    /// Samples per chunk of the projection pass.
    pub projection_chunk: usize,
    /// Side of a streamed Gram block (see `KronCurvature::c_moments`).
    pub gram_chunk: usize,
    /// Threads that hold a Gram block at once.
    pub threads: usize,
    /// Keep the dense `A_p` per sample (`KronCurvature::new`); off for
    /// `KronCurvature::new_factored`.
    pub dense_factors: bool,
    /// Bootstrap replicates R of gamma's uncertainty stage (0: no stage,
    /// and the projection pass keeps no per-sample quadratics).
    pub bootstrap_replicates: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            eig: EigMethod::Auto,
            krylov_block: 0,
            krylov_basis: 0,
            coupling_awd: false,
            coupling_null: false,
            projection_chunk: 64,
            gram_chunk: 512,
            threads: rayon::current_num_threads(),
            dense_factors: true,
            bootstrap_replicates: 0,
        }
    }
}

/// Bytes of one stage: what it allocates on top of what earlier stages left
/// alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageBytes {
    /// Stage name (as `analyze` times it).
    pub name: String,
    /// Held from earlier stages while this one runs.
    pub live: u64,
    /// This stage's own peak.
    pub transient: u64,
}

impl StageBytes {
    /// `live + transient`.
    pub fn peak(&self) -> u64 {
        self.live.saturating_add(self.transient)
    }
}

/// The memory plan of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// The eigen route [`eig_route`] picks.
    pub eig: EigMethod,
    /// The moment route [`moment_route`] picks.
    pub moments: MomentRoute,
    /// Per stage, in order.
    pub stages: Vec<StageBytes>,
}

impl MemoryEstimate {
    /// The largest stage peak.
    pub fn peak(&self) -> u64 {
        self.stages.iter().map(StageBytes::peak).max().unwrap_or(0)
    }

    /// The first stage whose peak exceeds `budget`, as [`Error::MemoryLimit`].
    pub fn check(&self, budget: &MemoryBudget) -> Result<()> {
        for s in &self.stages {
            budget.check(
                &s.name,
                s.peak(),
                "use fewer samples, a smaller top-k, or the matrix-free eigen route",
            )?;
        }
        Ok(())
    }
}

fn b8(doubles: usize) -> u64 {
    8u64.saturating_mul(doubles as u64)
}

/// Column length of a small faer matrix with `rows` rows (faer pads the
/// column stride of f64 matrices to whole 64-byte lines).
fn padded(rows: usize) -> usize {
    rows.div_ceil(8) * 8
}

/// Bytes of the per-sample factors: the samples as gathered (`a_p`, `D_p`,
/// logits) and the engine (`a_p` again, `A_p` out x out unless
/// `dense_factors` is off (`KronCurvature::new_factored`), `E_p` out x r,
/// `delta_p`, `theta_p`; r = min(K, out)); per-sample matrices with faer's
/// padded columns and 32 bytes of allocator overhead per allocation, plus
/// the out x out product `D_p^T M_p D_p` of the construction: with the
/// dense `A_p` kept, its freed space stays interleaved with the kept
/// factors in the heap (measured: one more `A_p` per sample); without, one
/// per thread.
pub fn factor_bytes(shape: &AnalysisShape, dense_factors: bool, threads: usize) -> u64 {
    let (n, out, inn, k) = (shape.samples, shape.out, shape.inn, shape.classes);
    let r = k.min(out);
    let a_p = padded(out) * out;
    let (kept, transient) = if dense_factors {
        (2 * a_p, 0)
    } else {
        (0, threads.max(1) * a_p)
    };
    let per_sample = padded(k) * out + kept + padded(out) * r + out + r + 4 * 4;
    b8(padded(n) * (2 * inn + k) + n * per_sample + transient)
}

/// Bytes of the dense packed build of `E_p[B_p (x) a_p a_p^T]` (H or
/// `E[h_p^2]`): rows `vech(B_p)` (filled from 1024 samples' `B_p` at a
/// time), `vech(a_p a_p^T)`, their product and the d x d result.
pub fn dense_build_bytes(n: usize, out: usize, inn: usize) -> u64 {
    let (po, pi, d) = (out * (out + 1) / 2, inn * (inn + 1) / 2, out * inn);
    b8(n * po + n * pi + po * pi + d * d).max(b8(n * po + n.min(1024) * padded(out) * out))
}

/// Bytes of the dense top-k eigensolver on an n x n matrix: the matrix, all
/// eigenvectors of the tridiagonal matrix and faer's scratch (about one
/// more n x n), and the k vectors.
pub fn dense_eig_bytes(n: usize, k: usize) -> u64 {
    b8(3 * n * n + n * k)
}

/// Bytes of the dense eigenvalues of an n x n matrix (a scaled copy and
/// faer's scratch) on top of the matrix.
pub fn dense_eigenvalues_bytes(n: usize) -> u64 {
    b8(2 * n * n)
}

/// Scratch of one matrix-free Kronecker H product on a block of b columns
/// (reshaped block, result accumulator, the chunk buffer of
/// [`kron_chunk`] samples).
pub fn kron_product_bytes(n: usize, out: usize, inn: usize, b: usize) -> u64 {
    let len = kron_chunk(n, out, b);
    b8(3 * b * out * inn + b * out * len)
}

/// Samples per chunk of the matrix-free product: its `b out x chunk` buffer
/// is kept near 32 MiB.
pub fn kron_chunk(n: usize, out: usize, b: usize) -> usize {
    ((4usize << 20) / (b * out).max(1)).clamp(1, n.max(1))
}

/// The whole plan (module doc for the routes). Stage names follow
/// `analyze`'s timings.
pub fn estimate_analysis(shape: &AnalysisShape, opt: &AnalysisOptions) -> MemoryEstimate {
    let (n, out, inn, kc) = (shape.samples, shape.out, shape.inn, shape.classes);
    let d = shape.d();
    let k = shape.top_k.min(d);
    let r = kc.min(out);
    let eig = eig_route(n, d, k, opt.eig);
    let moments = moment_route(n, out, inn);
    let factors = factor_bytes(shape, opt.dense_factors, opt.threads);
    let mut stages = vec![StageBytes {
        name: "factor A_p".into(),
        live: 0,
        transient: factors,
    }];
    let (b, _, _) = crate::linalg::krylov_shape(d, k, opt.krylov_block, opt.krylov_basis);
    let eig_bytes = match eig {
        EigMethod::Dense | EigMethod::Auto => {
            dense_build_bytes(n, out, inn).max(dense_eig_bytes(d, k))
        }
        EigMethod::KrylovDense => dense_build_bytes(n, out, inn)
            .max(b8(d * d) + krylov_bytes(d, k, opt.krylov_block, opt.krylov_basis)),
        EigMethod::KrylovMatrixFree => {
            krylov_bytes(d, k, opt.krylov_block, opt.krylov_basis)
                + kron_product_bytes(n, out, inn, b)
        }
    };
    stages.push(StageBytes {
        name: "top-k eig(H)".into(),
        live: factors,
        transient: eig_bytes,
    });
    let vecs = b8(d * k);
    let chunk = opt.projection_chunk.max(1);
    let mut proj = b8(n * k + k * d + k * out * chunk + chunk * (r + 1) * k);
    if opt.coupling_awd {
        proj += b8(chunk * r * k + k * k);
    }
    // Per-sample v_i^T h_p v_i and v_i^T h_p^2 v_i for the uncertainty stage.
    let per_sample = if opt.bootstrap_replicates > 0 {
        b8(2 * n * k)
    } else {
        0
    };
    proj += per_sample;
    stages.push(StageBytes {
        name: "projections".into(),
        live: factors + vecs,
        transient: proj,
    });
    let held =
        factors + vecs + b8(n * k) + per_sample + if opt.coupling_awd { b8(k * k) } else { 0 };
    let c_moments = match moments {
        MomentRoute::DualStreamed => {
            let c = opt.gram_chunk.max(1);
            b8(opt.threads.max(1) * 2 * c * c + n * (out + 1))
        }
        MomentRoute::Primal => b8(d * d + opt.gram_chunk.max(1) * d + d),
    };
    let c_spectrum = if !opt.coupling_null {
        0
    } else if n > d {
        b8(d * d + opt.gram_chunk.max(1) * d) + dense_eigenvalues_bytes(d)
    } else {
        b8(3 * n * n + n * out).max(b8(n * n) + dense_eigenvalues_bytes(n))
    };
    stages.push(StageBytes {
        name: "rho_bar(C)".into(),
        live: held,
        transient: b8(2 * k * k) + c_moments.max(c_spectrum),
    });
    if opt.coupling_awd {
        let null = if opt.coupling_null {
            b8(d * d) + dense_eigenvalues_bytes(d)
        } else {
            0
        };
        stages.push(StageBytes {
            name: "rho_bar(C_awd)".into(),
            live: held,
            transient: dense_build_bytes(n, out, inn).max(null),
        });
    }
    if opt.bootstrap_replicates > 0 {
        // crate::layer::uncertainty: the squared projections, the R x N
        // multiplicities, four R x k products; the null's C_k and, per
        // thread, a Haar Q and C_k Q.
        let rb = opt.bootstrap_replicates;
        let boot = b8(n * k + rb * n + 4 * rb * k);
        let null = b8(n * k + (1 + 2 * opt.threads.max(1)) * k * k);
        stages.push(StageBytes {
            name: "gamma uncertainty".into(),
            live: held,
            transient: boot.max(null),
        });
    }
    MemoryEstimate {
        eig,
        moments,
        stages,
    }
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`,
/// fields 14 and 15 in clock ticks of 1/100 s, the kernel's USER_HZ).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
