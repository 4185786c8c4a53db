//! Typed errors of the library. Every variant names the input it is about and
//! what was wrong with it, so the CLI can print one clear line and exit with
//! code 2 (see `crate::exit`). Nothing in the library panics on user input.

use thiserror::Error;

pub mod nan_null;
pub mod or_error;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the core (ensembles, moments, fits, bounds, claim checks).
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not.
    #[error("{input}: shape mismatch: expected {expected}, got {got}")]
    Shape {
        input: String,
        expected: String,
        got: String,
    },
    /// A NaN or infinity where a finite number is required.
    #[error("{input}: non-finite value {value} at {location}")]
    NonFinite {
        input: String,
        location: String,
        value: f64,
    },
    /// A matrix that must be symmetric is not (within tolerance).
    #[error("{input}: not symmetric: max |A_ij - A_ji| = {max_asym:e} > tolerance {tol:e}")]
    NotSymmetric {
        input: String,
        max_asym: f64,
        tol: f64,
    },
    /// A matrix that must be PSD has an eigenvalue below `-30 n eps ||A||_2`.
    #[error("{input}: not positive semidefinite: smallest eigenvalue {min_eig:e} < -{tol:e}")]
    NotPsd {
        input: String,
        min_eig: f64,
        tol: f64,
    },
    /// Columns that must be orthonormal are not.
    #[error("{input}: columns not orthonormal: max |U^T U - I| = {residual:e} > {tol:e}")]
    NotOrthonormal {
        input: String,
        residual: f64,
        tol: f64,
    },
    /// An ensemble, sample set or point set with nothing in it.
    #[error("{input}: empty ({what})")]
    Empty { input: String, what: String },
    /// A parameter outside its admissible range.
    #[error("{name} = {value}: {reason}")]
    InvalidParameter {
        name: String,
        value: String,
        reason: String,
    },
    /// A fit that has too few usable points, or degenerate abscissae.
    #[error("{input}: cannot fit: {reason}")]
    DegenerateFit { input: String, reason: String },
    /// A value that must be strictly positive (e.g. to take its logarithm) is not.
    #[error("{input}: entry {index} is {value:e}, not positive")]
    NotPositive {
        input: String,
        index: usize,
        value: f64,
    },
    /// A sequence that must be sorted (e.g. descending eigenvalues) is not.
    #[error("{input}: not sorted {order}: entry {index} is {next:e} after {prev:e}")]
    NotSorted {
        input: String,
        order: String,
        index: usize,
        prev: f64,
        next: f64,
    },
    /// One bootstrap replicate failed; `source` says why.
    #[error("bootstrap replicate {rep}: {source}")]
    Bootstrap {
        rep: usize,
        #[source]
        source: Box<Error>,
    },
    /// An iterative linear-algebra routine did not converge.
    #[error("{input}: {routine} did not converge")]
    NoConvergence { input: String, routine: String },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// An activity vector whose norm is zero or subnormal: no weight
    /// perturbation of the layer can reproduce a partner's pre-activation
    /// from it (C5, Lemma 3.2 divides by `|a|^2`).
    #[error("activity of sample {sample} has norm {norm:e} (zero or subnormal): the minimal dW = W da a^T / |a|^2 is undefined")]
    ZeroActivity { sample: usize, norm: f64 },
    /// A sample of one mini-batch whose class has no sample in the other
    /// batch, so it has no matched partner (Sec. 3.1).
    #[error("sample {sample} of class {class} has no same-class partner in the other batch")]
    NoPartner { sample: usize, class: u8 },
    /// A stage of an analysis would need more memory than allowed: refused
    /// before allocating (see `crate::memory`).
    #[error("{stage}: needs about {needed_bytes} bytes ({needed_gib:.2} GiB) of memory, over the memory limit of {limit_bytes} bytes (the memory available, or the cap of SUPERLINEAR_MEMORY_LIMIT or --memory-limit-gib); {hint}")]
    MemoryLimit {
        stage: String,
        needed_bytes: u64,
        needed_gib: f64,
        limit_bytes: u64,
        hint: String,
    },
    /// A figure that could not be drawn (the plotting backend's message).
    #[error("figure {figure}: {message}")]
    Render { figure: String, message: String },
    /// A claim id that the catalogue does not know.
    #[error("claim = {id:?}: unknown claim id (known: {known})")]
    UnknownClaim { id: String, known: String },
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(
        input: &str,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Shape {
            input: input.to_string(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// Shorthand for [`Error::Empty`].
    pub fn empty(input: &str, what: &str) -> Self {
        Error::Empty {
            input: input.to_string(),
            what: what.to_string(),
        }
    }
}

/// A failure that a report or a record holds in place of a figure (a fit
/// with too few points, a zero matrix, ...): the kind of error it was (the
/// name of its [`Error`] variant, or a short name for failures found outside
/// the core's errors) and its message. It serialises as its message and
/// reads such a string back with the kind `recorded`; a field holding a
/// figure or its failure is written through [`or_error`] (the figure, or
/// `{"error": "<message>"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The kind of error, e.g. `InvalidParameter` or `ZeroMatrix`.
    pub kind: String,
    /// The one-line message, naming the input.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.to_string(),
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let debug = format!("{e:?}");
        let kind = debug
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("Error")
            .to_string();
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl serde::Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

impl<'de> serde::Deserialize<'de> for Failure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let message = String::deserialize(d)?;
        Ok(Failure::new("recorded", message))
    }
}
