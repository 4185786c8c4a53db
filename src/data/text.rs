//! Plain-text vectors (for example eigenvalue files): numbers separated by
//! whitespace, commas or newlines; `#` starts a comment that runs to the end
//! of the line. Anything `f64::from_str` accepts is a number (including `nan`
//! and `inf`: callers check semantics).

use super::io::{read_capped, DEFAULT_CAP};
use super::DataError;
use std::path::Path;

/// Parses a text vector; `path` names the input in errors.
pub fn parse_text_vector(text: &str, path: &str) -> Result<Vec<f64>, DataError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        for token in content
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let value = token.parse::<f64>().map_err(|_| DataError::BadNumber {
                path: path.into(),
                line: i + 1,
                token: token.chars().take(40).collect(),
            })?;
            out.push(value);
        }
    }
    Ok(out)
}

/// Reads a text vector file (optionally gzip-compressed).
pub fn read_text_vector(path: &Path) -> Result<Vec<f64>, DataError> {
    let bytes = read_capped(path, "text vector", DEFAULT_CAP)?;
    let label = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        DataError::BadNumber {
            path: label.clone(),
            line,
            token: format!("<invalid UTF-8 at byte {at}>"),
        }
    })?;
    parse_text_vector(&text, &label)
}
