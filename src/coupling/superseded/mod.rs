//! Earlier generations of the corrected null SE of `rho_bar` (claim **C4**),
//! replaced by [`super::row_law::corrected_se_row_law`] but still computed:
//! the grid ([`super::grid`]) records them as columns (`corrected_se_ratio`
//! for the quadratic SE, `gaussian_row_law_se_ratio` for the
//! Gaussian-partner SE, in `theory/coupling-null.json` and the table of
//! `theory/coupling-null-grid.md`), so the record shows what each step of
//! the derivation gained.
//!
//! - [`se_quadratic`] (`theory/coupling-null.md`, section 3(c)): the
//!   degenerate variance plus a quadratic, jointly Gaussian estimate of the
//!   first-order term; within 25% for equal spikes and spikes on a bulk, but
//!   off by a factor 0.55 to 2.21 for power laws. Superseded by 3(d).
//! - [`se_row_law_gaussian`] (section 3(d)): the first-order term from the
//!   exact law of the row ratio with independent Gaussian partners; 1.27 to
//!   1.77 times too small for power:0.5. Superseded by 3(e), the Haar-partner
//!   row law of [`super::row_law`].

mod gaussian_partners;
mod quadratic;

pub use gaussian_partners::{
    first_order_var_gaussian, row_law_gaussian, se_row_law_gaussian, RowLawGaussian,
};
pub use quadratic::{first_order_var_quadratic, se_quadratic};
