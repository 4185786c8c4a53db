//! Reading the inputs of `baseline`, `baseline-grid` and `coupling` from
//! files: eigenvalue lists, `.npy` matrices and grid records. Errors are the
//! library's, naming the file.

use std::path::Path;

use faer::Mat;
use superlinear::coupling::grid::GridResults;
use superlinear::data::{self, DataError};
use superlinear::error::{Error, Result};

/// Reads an eigenvalue file for `file:PATH` spectra: `.npy` (any real dtype,
/// 1-D or a single row/column) or text (numbers separated by white space or
/// commas, `#` comments).
pub fn load_spectrum_file(path: &Path) -> Result<Vec<f64>> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let read = if is_npy {
        data::npy::read_vector(path)
    } else {
        data::read_text_vector(path)
    };
    read.map_err(|e| data_error("--spectrum file", e))
}

/// Reads a square matrix saved from NumPy (`.npy`) with the unit roundoff
/// of its dtype (f32's for float32); `role` names it in errors.
pub fn load_matrix(path: &Path, role: &str) -> Result<(Mat<f64>, data::npy::Elem)> {
    let (a, elem) = data::npy::read_matrix_typed(path).map_err(|e| data_error(role, e))?;
    if a.nrows() != a.ncols() {
        return Err(Error::shape(
            &format!("{role} ({})", path.display()),
            "a square matrix",
            format!("{} x {}", a.nrows(), a.ncols()),
        ));
    }
    Ok((superlinear::linalg::mat_from_ndarray(a.view()), elem))
}

/// Reads a grid record (the `--json` output of `baseline-grid`, e.g.
/// `theory/coupling-null.json`).
pub fn load_grid_results(path: &Path) -> Result<GridResults> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Io {
        path: shown,
        message: format!("not a baseline-grid results file: {e}"),
    })
}

/// A data error under the name of the input it came from (the error itself
/// names the file).
fn data_error(input: &str, e: DataError) -> Error {
    Error::Io {
        path: input.to_string(),
        message: e.to_string(),
    }
}
