//! The first-order term of the null variance of `rho_bar` as a quadratic,
//! jointly Gaussian estimate (`theory/coupling-null.md`, section 3(c);
//! claim **C4**): with `X = |w|^2`, `Y = w^T D w`, `a = Y/S2 - 1`,
//! `b = X/S1 - 1`, the part of the row term surviving the Haar constraint is
//! `Q = -a^2/8 + 3 b^2/8 - a b/4`, and
//!
//! ```text
//! Var_1 = (4/d) mu_c^2 2 tr((B Sigma)^2),   B = [[-1/8, -1/8], [-1/8, 3/8]],
//! Sigma = 2 [[S4/S2^2, S3/(S1 S2)], [S3/(S1 S2), S2/S1^2]],
//! SE_c  = sqrt(Var_deg + Var_1).
//! ```
//!
//! Superseded by the row law of section 3(d) and then 3(e); still a column of
//! the grid (see the parent module).

use crate::coupling::formulas::{corrected_mean, corrected_var_degenerate, SpectrumMoments};

/// First-order (Hoeffding) part of the corrected null variance, zero for
/// equal spikes: `(4/d) mu_c^2 Var(Q)`. With `X = |w|^2`, `Y = w^T D w`
/// (`w ~ N(0, D)`), `a = Y/S2 - 1`, `b = X/S1 - 1`, the row term
/// `E[|rho_ij| | w_i] ~ mu (Y/X)^(1/2)`; its linear part `(a - b)/2` sums to
/// exactly 0 over the rows of a Haar frame (`sum_i w_i w_i^T = d D`), leaving
/// `Q = -a^2/8 + 3 b^2/8 - a b/4`, whose variance we take with (a, b) jointly
/// Gaussian (`Var a = 2 S4/S2^2`, `Var b = 2 S2/S1^2`,
/// `Cov = 2 S3/(S1 S2)`): `Var Q = 2 tr((B Sigma)^2)`. A leading-order
/// estimate, off by up to 2.2x on power laws (`theory/coupling-null.md`, 3(c)).
pub fn first_order_var_quadratic(m: &SpectrumMoments, d: usize) -> f64 {
    let va = 2.0 * m.s4 / (m.s2 * m.s2);
    let vb = 2.0 * m.s2 / (m.s1 * m.s1);
    let cab = 2.0 * m.s3 / (m.s1 * m.s2);
    let b = [[-0.125, -0.125], [-0.125, 0.375]];
    let sig = [[va, cab], [cab, vb]];
    let mut bs = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            bs[i][j] = b[i][0] * sig[0][j] + b[i][1] * sig[1][j];
        }
    }
    let tr2 = bs[0][0] * bs[0][0] + 2.0 * bs[0][1] * bs[1][0] + bs[1][1] * bs[1][1];
    let mc = corrected_mean(m, d);
    (4.0 / d as f64) * mc * mc * (2.0 * tr2).max(0.0)
}

/// The quadratic-estimate SE of `rho_bar` under the null:
/// `sqrt(corrected_var_degenerate + first_order_var_quadratic)`.
pub fn se_quadratic(m: &SpectrumMoments, d: usize) -> f64 {
    (corrected_var_degenerate(m, d) + first_order_var_quadratic(m, d)).sqrt()
}
