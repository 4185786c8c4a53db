//! Dense linear-algebra primitives shared by every module, on `faer`.
//!
//! - Symmetric eigendecomposition `A = V diag(l) V^T` with eigenvalues in
//!   **descending** order (the paper indexes `lambda_1 >= lambda_2 >= ...`).
//! - The one PSD rule used everywhere: a symmetric `A` (n x n) counts as PSD
//!   when `lambda_min(A) >= -30 n eps ||A||_2`.
//! - Haar-distributed orthogonal matrices and orthonormal frames: QR of a
//!   Gaussian matrix with the sign fix `Q <- Q diag(sign(R_ii))` (Mezzadri
//!   2007), without which the distribution is not Haar.
//! - Seeded ChaCha generators, so every run is reproducible from its seed.
//! - A matrix-free top-k eigensolver for operators given by their block
//!   product ([`krylov`]).
//!
//! Finding (`theory/eigen-crosscheck.md`): faer 0.24's
//! `self_adjoint_eigen` does not scale its input. On Haar-rotated matrices
//! with `||A|| ~ 1e300` its residual `||A - V L V^T||_1 / (n ||A||_1 eps)`
//! reached 4e10, at `||A|| ~ 1e-300` 4e12, and on some matrices with
//! subnormal entries it reported no convergence. [`sym_eig`] and
//! [`sym_eigenvalues`] therefore decompose `2^-e A` with `2^e` the power of
//! two at or just below `max |A_ij|` (an exact scaling: no rounding, except
//! entries below `2^-1074 max |A_ij|`, far under `eps ||A||`) and multiply
//! the eigenvalues back by `2^e`; with that, every test type passes at ratio
//! below 30, as nalgebra (which scales the same way) does.
//!
//! Finding: faer 0.24's divide and conquer on the tridiagonal form reports no
//! convergence on some tridiagonals with many exact zeros off the diagonal,
//! where its own QR algorithm converges. Seen on the Hessian of a CNN layer
//! at a checkpoint where training had collapsed to chance: 2,379 of its
//! 2,560 rows were exactly zero (dead input units); the tridiagonal is
//! `tests/fixtures/eig/dead-units-tridiagonal.f64le`. Every decomposition
//! here therefore retries a tridiagonal that divide and conquer rejects
//! with the QR algorithm ([`tridiagonal_evd`]); a matrix divide and conquer
//! accepts is decomposed exactly as before.

pub mod krylov;

pub use krylov::{
    krylov_bytes, krylov_shape, top_eig_krylov, DenseSymOperator, KrylovEig, KrylovSettings,
    SymOperator,
};

use faer::{Mat, MatRef, Side};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};

/// The generator every random routine takes: ChaCha8, seeded explicitly.
pub type Rng = ChaCha8Rng;

/// A ChaCha8 generator from a 64-bit seed.
pub fn seeded_rng(seed: u64) -> Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// An independent stream `stream` of the generator for `seed`: used to give
/// parallel workers (or sub-experiments) their own reproducible streams.
pub fn seeded_stream(seed: u64, stream: u64) -> Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Symmetric eigendecomposition with eigenvalues in descending order.
#[derive(Debug, Clone)]
pub struct SymEig {
    /// Eigenvalues, descending.
    pub values: Vec<f64>,
    /// Eigenvectors as columns, `vectors.col(i)` belongs to `values[i]`.
    pub vectors: Mat<f64>,
}

/// The PSD tolerance `30 n eps ||A||_2` for an n x n matrix of spectral norm `norm2`.
pub fn psd_tolerance(n: usize, norm2: f64) -> f64 {
    psd_tolerance_at(n, norm2, f64::EPSILON)
}

/// The PSD tolerance `30 n eps ||A||_2` at the unit roundoff `eps` of the
/// values (f32's for a float32 input file).
pub fn psd_tolerance_at(n: usize, norm2: f64, eps: f64) -> f64 {
    30.0 * n.max(1) as f64 * eps * norm2
}

/// Whether a spectrum of an n x n symmetric matrix passes the PSD rule.
pub fn spectrum_is_psd(values: &[f64], n: usize) -> bool {
    let norm2 = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    values.is_empty() || min >= -psd_tolerance(n, norm2)
}

/// Fails with [`Error::NonFinite`] at the first NaN or infinity of `a`.
pub fn check_finite(a: MatRef<'_, f64>, input: &str) -> Result<()> {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = a[(i, j)];
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    input: input.to_string(),
                    location: format!("({i}, {j})"),
                    value: v,
                });
            }
        }
    }
    Ok(())
}

/// Fails with [`Error::NonFinite`] at the first NaN or infinity of `v`.
pub fn check_finite_slice(v: &[f64], input: &str) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::NonFinite {
            input: input.to_string(),
            location: format!("[{i}]"),
            value: v[i],
        }),
        None => Ok(()),
    }
}

/// Checks that `b` has as many values as `a` (else [`Error::Shape`] naming
/// `b_name`) and that both are finite (else [`Error::NonFinite`]).
pub fn check_paired_finite(a: &[f64], a_name: &str, b: &[f64], b_name: &str) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::shape(
            b_name,
            format!("{} values (one per entry of {a_name})", a.len()),
            b.len(),
        ));
    }
    check_finite_slice(a, a_name)?;
    check_finite_slice(b, b_name)
}

/// Fails with [`Error::NotPositive`] at the first value `<= 0` of `v`.
pub fn check_positive_slice(v: &[f64], input: &str) -> Result<()> {
    match v.iter().position(|&x| x <= 0.0) {
        Some(i) => Err(Error::NotPositive {
            input: input.to_string(),
            index: i,
            value: v[i],
        }),
        None => Ok(()),
    }
}

/// Checks squareness, finiteness and symmetry to `100 n eps max|A_ij|`.
pub fn check_symmetric(a: MatRef<'_, f64>, input: &str) -> Result<()> {
    check_symmetric_at(a, input, f64::EPSILON).map(|_| ())
}

/// The symmetry tolerance `100 n eps max|A_ij|` at the unit roundoff `eps`
/// of the values.
pub fn symmetry_tolerance(n: usize, max_abs: f64, eps: f64) -> f64 {
    100.0 * n.max(1) as f64 * eps * max_abs
}

/// `max |A_ij - A_ji|` of a square matrix.
pub fn max_asymmetry(a: MatRef<'_, f64>) -> f64 {
    let mut max_asym = 0.0f64;
    for j in 0..a.ncols().min(a.nrows()) {
        for i in 0..j {
            max_asym = max_asym.max((a[(i, j)] - a[(j, i)]).abs());
        }
    }
    max_asym
}

/// Checks squareness, finiteness and symmetry to
/// [`symmetry_tolerance`] at the unit roundoff `eps` of the values (f32's
/// for a float32 file); returns `(max |A_ij - A_ji|, tolerance)`.
pub fn check_symmetric_at(a: MatRef<'_, f64>, input: &str, eps: f64) -> Result<(f64, f64)> {
    let (max_asym, tol) = asymmetry_at(a, input, eps)?;
    if max_asym > tol {
        return Err(Error::NotSymmetric {
            input: input.to_string(),
            max_asym,
            tol,
        });
    }
    Ok((max_asym, tol))
}

/// Checks squareness and finiteness; returns `(max |A_ij - A_ji|,
/// tolerance)` with the tolerance at the unit roundoff `eps`.
pub fn asymmetry_at(a: MatRef<'_, f64>, input: &str, eps: f64) -> Result<(f64, f64)> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(Error::shape(
            input,
            "a square matrix",
            format!("{} x {}", a.nrows(), a.ncols()),
        ));
    }
    check_finite(a, input)?;
    Ok((max_asymmetry(a), symmetry_tolerance(n, a.norm_max(), eps)))
}

/// `x 2^k`, exact unless the result over- or underflows (applied in steps
/// so that `2^k` itself need not be representable).
fn mul_pow2(mut x: f64, mut k: i32) -> f64 {
    while k != 0 {
        let step = k.clamp(-1000, 1000);
        x *= 2f64.powi(step);
        k -= step;
    }
    x
}

/// The exponent `e` with `2^e <= max |A_ij| < 2^(e+1)`, or `None` for a
/// zero matrix.
fn max_abs_exponent(a: MatRef<'_, f64>) -> Option<i32> {
    let m = a.norm_max();
    // log2 is exact on powers of two and monotone, so floor() gives e.
    (m > 0.0).then(|| m.log2().floor() as i32)
}

/// `2^-e A` for the exponent of [`max_abs_exponent`] (see the module doc).
fn scaled_by_pow2(a: MatRef<'_, f64>, e: i32) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| mul_pow2(a[(i, j)], -e))
}

/// Multiplies eigenvalues back by `2^e`; an eigenvalue beyond the f64 range
/// (possible only when `||A||_2 > f64::MAX` although every entry is finite)
/// is an error.
fn unscale_values(values: &mut [f64], e: i32, input: &str) -> Result<()> {
    for (i, v) in values.iter_mut().enumerate() {
        *v = mul_pow2(*v, e);
        if !v.is_finite() {
            return Err(Error::NonFinite {
                input: input.to_string(),
                location: format!("eigenvalue {i} (overflows f64)"),
                value: *v,
            });
        }
    }
    Ok(())
}

/// Eigendecomposition of a symmetric matrix (validated: square, finite,
/// symmetric), eigenvalues descending. Uses the lower triangle. The matrix
/// is scaled by a power of two near `1 / max |A_ij|` before faer decomposes
/// it (see the module doc for why).
pub fn sym_eig(a: MatRef<'_, f64>, input: &str) -> Result<SymEig> {
    check_symmetric(a, input)?;
    let n = a.nrows();
    let Some(e) = max_abs_exponent(a) else {
        // Zero matrix (or n = 0): eigenvalues 0, eigenvectors I.
        return Ok(SymEig {
            values: vec![0.0; n],
            vectors: Mat::identity(n, n),
        });
    };
    let scaled = scaled_by_pow2(a, e);
    let Ok(evd) = scaled.self_adjoint_eigen(Side::Lower) else {
        // Divide and conquer rejected the tridiagonal: the same steps with
        // the QR fallback (module doc).
        return sym_eig_top(a.to_owned(), n, faer::get_global_parallelism(), input);
    };
    let s = evd.S().column_vector();
    let u = evd.U();
    // faer returns ascending order: reverse.
    let mut values: Vec<f64> = (0..n).rev().map(|i| s[i]).collect();
    unscale_values(&mut values, e, input)?;
    let vectors = Mat::from_fn(n, n, |i, j| u[(i, n - 1 - j)]);
    Ok(SymEig { values, vectors })
}

/// Eigenvalues only, descending.
pub fn sym_eigenvalues(a: MatRef<'_, f64>, input: &str) -> Result<Vec<f64>> {
    check_symmetric(a, input)?;
    let Some(e) = max_abs_exponent(a) else {
        return Ok(vec![0.0; a.nrows()]);
    };
    let Ok(mut v) = scaled_by_pow2(a, e).self_adjoint_eigenvalues(Side::Lower) else {
        // The QR fallback of the module doc.
        return Ok(sym_eig_top(
            a.to_owned(),
            a.nrows(),
            faer::get_global_parallelism(),
            input,
        )?
        .values);
    };
    v.reverse();
    unscale_values(&mut v, e, input)?;
    Ok(v)
}

/// Fails with [`Error::NotPsd`] unless symmetric `a` passes the PSD rule.
pub fn check_psd(a: MatRef<'_, f64>, input: &str) -> Result<()> {
    let values = sym_eigenvalues(a, input)?;
    let n = a.nrows();
    let norm2 = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let tol = psd_tolerance(n, norm2);
    if !values.is_empty() && min < -tol {
        return Err(Error::NotPsd {
            input: input.to_string(),
            min_eig: min,
            tol,
        });
    }
    Ok(())
}

/// A d x r matrix of independent standard normals.
pub fn gaussian_matrix(nrows: usize, ncols: usize, rng: &mut Rng) -> Mat<f64> {
    Mat::from_fn(nrows, ncols, |_, _| StandardNormal.sample(rng))
}

/// The first `r` columns of a Haar-distributed d x d orthogonal matrix
/// (a uniformly random orthonormal r-frame): thin QR of a d x r Gaussian
/// matrix with the sign fix `Q <- Q diag(sign(R_ii))`. Requires `r <= d`.
pub fn haar_frame(d: usize, r: usize, rng: &mut Rng) -> Result<Mat<f64>> {
    if r > d {
        return Err(Error::param(
            "rank",
            r,
            format!("a frame in dimension d = {d} has at most d columns"),
        ));
    }
    if r == 0 || d == 0 {
        return Ok(Mat::zeros(d, r));
    }
    Ok(sign_fixed_q(gaussian_matrix(d, r, rng).as_ref()))
}

/// The thin Q factor of `g` (d x r, r <= d) with the sign fix
/// `Q <- Q diag(sign(R_ii))`, so that `g = Q R` with `R_ii >= 0`: the
/// orthonormalisation that keeps Gaussian input Haar-distributed and keeps an
/// orthonormal first column `g.col(0)` unchanged.
pub fn sign_fixed_q(g: MatRef<'_, f64>) -> Mat<f64> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::householder as hh;
    use faer::linalg::qr::no_pivoting::factor as qrf;
    use faer::Par;
    // Single-threaded (`Par::Seq`), so the frame never depends on the thread pool.
    let (d, r) = (g.nrows(), g.ncols());
    if d == 0 || r == 0 {
        return Mat::zeros(d, r);
    }
    let mut a = g.to_owned();
    let bs = qrf::recommended_block_size::<f64>(d, r);
    let mut coeff = Mat::<f64>::zeros(bs, r);
    let par = Par::Seq;
    qrf::qr_in_place(
        a.as_mut(),
        coeff.as_mut(),
        par,
        MemStack::new(&mut MemBuffer::new(qrf::qr_in_place_scratch::<f64>(
            d,
            r,
            bs,
            par,
            Default::default(),
        ))),
        Default::default(),
    );
    let signs: Vec<f64> = (0..r)
        .map(|j| if a[(j, j)] < 0.0 { -1.0 } else { 1.0 })
        .collect();
    // The Householder basis is the strictly lower part of `a` with a unit
    // diagonal (as faer's own `Qr` builds it).
    for j in 0..r {
        for i in 0..j {
            a[(i, j)] = 0.0;
        }
        a[(j, j)] = 1.0;
    }
    let mut q = Mat::<f64>::identity(d, r);
    hh::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        a.as_ref(),
        coeff.as_ref(),
        faer::Conj::No,
        q.as_mut(),
        par,
        MemStack::new(&mut MemBuffer::new(
            hh::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(d, bs, r),
        )),
    );
    for (j, sgn) in signs.iter().enumerate() {
        for i in 0..d {
            q[(i, j)] *= sgn;
        }
    }
    q
}

/// A Haar-distributed d x d orthogonal matrix.
pub fn haar_orthogonal(d: usize, rng: &mut Rng) -> Mat<f64> {
    // r = d <= d always holds, so this cannot fail.
    haar_frame(d, d, rng).unwrap_or_else(|_| Mat::identity(d, d))
}

/// `max_ij |(U^T U - I)_ij|` for the columns of `u`.
pub fn orthonormality_residual(u: MatRef<'_, f64>) -> f64 {
    let g = u.transpose() * u;
    let r = g.nrows();
    let mut m = 0.0f64;
    for j in 0..r {
        for i in 0..r {
            let target = if i == j { 1.0 } else { 0.0 };
            m = m.max((g[(i, j)] - target).abs());
        }
    }
    m
}

/// Spectral norm of a symmetric matrix: the largest |eigenvalue|.
pub fn sym_norm2(a: MatRef<'_, f64>, input: &str) -> Result<f64> {
    Ok(sym_eigenvalues(a, input)?
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs())))
}

/// The top `k` eigenpairs (eigenvalues descending) of a symmetric matrix,
/// taken by value so that the power-of-two scaling of [`sym_eig`] (see the
/// module doc) happens in place. Validated like [`sym_eig`]; uses the lower
/// triangle.
///
/// Same algorithm as faer's `self_adjoint_eigen` (Householder
/// tridiagonalisation `A = Q T Q^T`, divide and conquer on T), except that
/// only the k wanted eigenvectors of T are carried back through Q:
/// the back-transformation costs `2 n^2 k` instead of `2 n^3` flops. The
/// eigenpairs are the same as [`sym_eig`]'s to rounding (cross-checked in
/// tests/kron.rs). `par` is faer's parallelism for every stage.
pub fn sym_eig_top(a: Mat<f64>, k: usize, par: faer::Par, input: &str) -> Result<SymEig> {
    Ok(sym_eig_top_timed(a, k, par, input)?.0)
}

/// Wall-clock seconds of the three stages of [`sym_eig_top`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EigStageTimes {
    /// Scaling and Householder tridiagonalisation.
    pub tridiagonalize: f64,
    /// Divide and conquer on the tridiagonal matrix (all its eigenvectors).
    pub tridiagonal_evd: f64,
    /// Back-transformation of the k wanted eigenvectors.
    pub back_transform: f64,
}

/// [`sym_eig_top`] with its stage times.
pub fn sym_eig_top_timed(
    mut a: Mat<f64>,
    k: usize,
    par: faer::Par,
    input: &str,
) -> Result<(SymEig, EigStageTimes)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd;
    use faer::linalg::householder as hh;
    check_symmetric(a.as_ref(), input)?;
    let n = a.nrows();
    let k = k.min(n);
    let mut times = EigStageTimes::default();
    let mut clock = std::time::Instant::now();
    let Some(e) = max_abs_exponent(a.as_ref()) else {
        let eig = SymEig {
            values: vec![0.0; k],
            vectors: Mat::identity(n, k),
        };
        return Ok((eig, times));
    };
    for j in 0..n {
        for i in j..n {
            a[(i, j)] = mul_pow2(a[(i, j)], -e);
        }
    }
    if n == 1 {
        let mut values = vec![a[(0, 0)]; k];
        unscale_values(&mut values, e, input)?;
        let eig = SymEig {
            values,
            vectors: Mat::identity(n, k),
        };
        return Ok((eig, times));
    }
    let params: faer::Spec<evd::SelfAdjointEvdParams, f64> = Default::default();
    let tparams: faer::Spec<evd::tridiag::TridiagParams, f64> = Default::default();
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
    let mut householder = Mat::<f64>::zeros(bs, n - 1);
    let mut buf = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::Yes,
        par,
        params,
    ));
    evd::tridiag::tridiag_in_place(
        a.as_mut(),
        householder.as_mut(),
        par,
        MemStack::new(&mut buf),
        tparams,
    );
    times.tridiagonalize = clock.elapsed().as_secs_f64();
    clock = std::time::Instant::now();
    let diag = faer::Col::<f64>::from_fn(n, |i| a[(i, i)]);
    let sub = faer::Col::<f64>::from_fn(n, |i| if i + 1 < n { a[(i + 1, i)] } else { 0.0 });
    let (s, u) = tridiagonal_evd(&diag, &sub, par, &mut buf, params, input)?;
    times.tridiagonal_evd = clock.elapsed().as_secs_f64();
    clock = std::time::Instant::now();
    // Ascending order from faer: the top k are the last k, reversed.
    let mut vectors = Mat::from_fn(n, k, |i, j| u[(i, n - 1 - j)]);
    drop(u);
    hh::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        a.as_ref().submatrix(1, 0, n - 1, n - 1),
        householder.as_ref(),
        faer::Conj::No,
        vectors.as_mut().subrows_mut(1, n - 1),
        par,
        MemStack::new(&mut buf),
    );
    let mut values: Vec<f64> = (0..k).map(|j| s[n - 1 - j]).collect();
    unscale_values(&mut values, e, input)?;
    times.back_transform = clock.elapsed().as_secs_f64();
    Ok((SymEig { values, vectors }, times))
}

/// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal
/// matrix with diagonal `diag` and subdiagonal `sub` (`sub[n - 1]` unused):
/// faer's divide and conquer, and where it reports no convergence, faer's
/// QR algorithm on the same input (module doc). `buf` holds at least the
/// scratch of a dense evd of size n with `params`.
fn tridiagonal_evd(
    diag: &faer::Col<f64>,
    sub: &faer::Col<f64>,
    par: faer::Par,
    buf: &mut faer::dyn_stack::MemBuffer,
    params: faer::Spec<faer::linalg::evd::SelfAdjointEvdParams, f64>,
    input: &str,
) -> Result<(faer::Col<f64>, Mat<f64>)> {
    use faer::dyn_stack::MemStack;
    use faer::linalg::evd;
    let n = diag.nrows();
    let mut s = faer::Col::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let mut run = |params| {
        evd::tridiagonal_self_adjoint_evd(
            diag.as_diagonal(),
            sub.as_diagonal(),
            s.as_diagonal_mut(),
            Some(u.as_mut()),
            par,
            MemStack::new(buf),
            params,
        )
    };
    if run(params).is_err() {
        // recursion_threshold above n: the QR algorithm on the whole matrix.
        let mut qr = params;
        qr.recursion_threshold = n + 1;
        run(qr).map_err(|_| Error::NoConvergence {
            input: input.to_string(),
            routine: "tridiagonal eigendecomposition (divide and conquer, then QR)".into(),
        })?;
    }
    Ok((s, u))
}

/// An ndarray matrix as a faer matrix (a copy): the one conversion between
/// the data arrays (`ndarray`) and the linear algebra (`faer`).
pub fn mat_from_ndarray(a: ndarray::ArrayView2<'_, f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

/// A faer matrix as an ndarray matrix (a copy); the inverse of
/// [`mat_from_ndarray`].
pub fn ndarray_from_mat(m: MatRef<'_, f64>) -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}
