//! # data: image datasets and matrix files, read by parsers that cannot be fooled
//!
//! Readers for the real data behind the trained-network claims (C6, C9, C13,
//! C15) and for user-supplied matrices and spectra:
//!
//! - [`load_mnist`]: MNIST IDX files ([`idx`]), plain or gzip, in the shared
//!   layout (`mnist-10k/images-idx3-ubyte.gz`, `labels-idx1-ubyte.gz`), the
//!   torchvision layout (`MNIST/raw/train-images-idx3-ubyte[.gz]`) or the
//!   classic names (`train-images-idx3-ubyte[.gz]`, `train-images.idx3-ubyte`).
//! - [`load_fashion_mnist`]: Fashion-MNIST, the same IDX files, in
//!   `fashion-mnist/` (Debian's `dataset-fashion-mnist` installs
//!   `/usr/share/datasets/fashion-mnist/`), torchvision's
//!   `FashionMNIST/raw/` or directly in the directory.
//! - [`load_cifar10`]: CIFAR-10 binary batches ([`cifar`]), plain or gzip, in
//!   the shared layout (`cifar10-jpeg/*.bin.gz`), the torchvision layout
//!   (`cifar-10-batches-bin/*.bin`) or directly in the directory; failing
//!   those, torchvision's python batches ([`pickle`]) in
//!   `cifar-10-batches-py/` or directly in the directory.
//! - [`atomic`]: crash-safe writes (temporary file, fsync, rename) for
//!   every file the tool writes.
//! - [`npy`]: `.npy` matrices and vectors; [`text`]: plain-text vectors.
//! - [`factors`]: one linear layer's per-sample factors (`a_p`, `D_p`,
//!   logits, labels, `W`) exported from any PyTorch model, a safetensors file
//!   in the `superlinear.factors` format.
//!
//! Pixels become `x = byte / 255` in `[0, 1]`, one row per image, features in
//! channel-major order `c * H * W + row * W + col`. [`Dataset::normalized`]
//! maps `x -> (x - mean_c) / std_c` per channel `c`, with the population
//! statistics of [`Dataset::channel_stats`]:
//! `mean_c = (1 / (N H W)) sum_{n, pixels of c} x`,
//! `std_c = sqrt((1 / (N H W)) sum (x - mean_c)^2)`.
//! Class subsets keep the first K classes (K = 3, 6, 10 in the paper);
//! balanced sampling picks exactly `m` samples of every class present, either
//! by a seeded ChaCha8 draw ([`Dataset::balanced`]) or the first `m` in file
//! order ([`Dataset::take_balanced_prefix`]); subsets keep file order.
//!
//! Every input is read under a hard cap ([`io::DEFAULT_CAP`], also on the
//! decompressed size), every declared size is checked against the actual
//! length before anything is allocated, and every failure is a [`DataError`]
//! naming the file and what is wrong. This module depends on nothing else of
//! the crate.

pub mod atomic;
pub mod cifar;
mod error;
pub mod factors;
pub mod idx;
pub mod io;
pub mod npy;
pub mod pickle;
pub mod text;

pub use error::DataError;
pub use text::read_text_vector;

use idx::IdxKind;
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the data root.
pub const DATA_ENV: &str = "SUPERLINEAR_DATA";

/// Images with labels: `images` is `N x (C H W)` in channel-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub images: Array2<f32>,
    pub labels: Vec<u8>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub name: String,
}

/// Which CIFAR-10 files to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarSplit {
    /// `data_batch_1` ... `data_batch_5`, those that exist, in order.
    Train,
    /// `test_batch`.
    Test,
}

/// The data root: the flag if given, else `SUPERLINEAR_DATA`, else an error
/// saying how to set it. The directory must exist.
pub fn data_root(flag: Option<&Path>) -> Result<PathBuf, DataError> {
    data_root_from(flag, std::env::var_os(DATA_ENV))
}

/// [`data_root`] with the environment value passed explicitly (testable
/// without touching the process environment).
pub fn data_root_from(flag: Option<&Path>, env: Option<OsString>) -> Result<PathBuf, DataError> {
    let (dir, what) = match (flag, env) {
        (Some(p), _) => (p.to_path_buf(), "data directory given on the command line"),
        (None, Some(e)) if !e.is_empty() => {
            (PathBuf::from(e), "data directory named by SUPERLINEAR_DATA")
        }
        _ => return Err(DataError::NoDataRoot),
    };
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir,
            what: what.into(),
        });
    }
    Ok(dir)
}

/// Errors at the first label that is not a class 0-9.
pub fn check_labels(labels: &[u8], path: &str) -> Result<(), DataError> {
    match labels.iter().position(|&l| l >= 10) {
        Some(index) => Err(DataError::BadLabel {
            path: path.into(),
            index,
            label: labels[index],
        }),
        None => Ok(()),
    }
}

/// `base/stem` or `base/stem.gz`, whichever is a file (plain first).
fn find_file(base: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| base.join(n))
        .find(|p| p.is_file())
}

fn require_dir(dir: &Path, what: &str) -> Result<(), DataError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(DataError::Missing {
            path: dir.to_path_buf(),
            what: what.into(),
        })
    }
}

/// MNIST file-name pairs tried, in order: (images, labels).
const MNIST_NAMES: [(&str, &str); 3] = [
    ("images-idx3-ubyte", "labels-idx1-ubyte"),
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("train-images.idx3-ubyte", "train-labels.idx1-ubyte"),
];
/// Sub-directories tried, in order, under the given directory.
const MNIST_DIRS: [&str; 3] = ["", "mnist-10k", "MNIST/raw"];

/// Loads MNIST (the training images) from `dir` in any of the layouts of the
/// module doc.
pub fn load_mnist(dir: &Path) -> Result<Dataset, DataError> {
    require_dir(dir, "MNIST data directory")?;
    for sub in MNIST_DIRS {
        let base = dir.join(sub);
        for (img, lab) in MNIST_NAMES {
            if let Some(images) = find_file(&base, img) {
                let labels = find_file(&base, lab).ok_or_else(|| DataError::Missing {
                    path: base.join(lab),
                    what: format!("labels (plain or .gz) for {}", images.display()),
                })?;
                return load_idx_pair(&images, &labels, "mnist");
            }
        }
    }
    Err(DataError::Missing {
        path: dir.to_path_buf(),
        what: "MNIST IDX files: looked for images-idx3-ubyte, train-images-idx3-ubyte or \
               train-images.idx3-ubyte (plain or .gz) in ., mnist-10k/ and MNIST/raw/"
            .into(),
    })
}

/// Sub-directories tried for Fashion-MNIST, in order: its own folder (also
/// Debian's `/usr/share/datasets/fashion-mnist`), torchvision's, the
/// directory itself.
const FASHION_DIRS: [&str; 3] = ["fashion-mnist", "FashionMNIST/raw", ""];

/// Loads Fashion-MNIST (the training images; the IDX files of MNIST's
/// format, `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]`)
/// from `dir`, from `dir/fashion-mnist/` or from torchvision's
/// `dir/FashionMNIST/raw/`.
pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    require_dir(dir, "Fashion-MNIST data directory")?;
    let (img, lab) = MNIST_NAMES[1];
    for sub in FASHION_DIRS {
        let base = dir.join(sub);
        if let Some(images) = find_file(&base, img) {
            let labels = find_file(&base, lab).ok_or_else(|| DataError::Missing {
                path: base.join(lab),
                what: format!("labels (plain or .gz) for {}", images.display()),
            })?;
            return load_idx_pair(&images, &labels, "fashion-mnist");
        }
    }
    Err(DataError::Missing {
        path: dir.to_path_buf(),
        what: "Fashion-MNIST IDX files: looked for train-images-idx3-ubyte (plain or .gz) \
               in fashion-mnist/, FashionMNIST/raw/ and ."
            .into(),
    })
}

/// The MNIST test split (`t10k-images-idx3-ubyte` and its labels, plain or
/// .gz) in the layouts [`load_mnist`] reads, when present.
pub fn load_mnist_test(dir: &Path) -> Result<Option<Dataset>, DataError> {
    require_dir(dir, "MNIST data directory")?;
    for sub in MNIST_DIRS {
        let base = dir.join(sub);
        for (img, lab) in [
            ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
            ("t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"),
        ] {
            if let (Some(images), Some(labels)) = (find_file(&base, img), find_file(&base, lab)) {
                return load_idx_pair(&images, &labels, "mnist-test").map(Some);
            }
        }
    }
    Ok(None)
}

/// Loads an IDX image file and its IDX label file.
pub fn load_idx_pair(images: &Path, labels: &Path, name: &str) -> Result<Dataset, DataError> {
    let img_label = images.display().to_string();
    let lab_label = labels.display().to_string();
    let img_bytes = io::read_capped(images, "IDX images", io::DEFAULT_CAP)?;
    let img = idx::parse_idx_kind(&img_bytes, &img_label, IdxKind::Images)?;
    drop(img_bytes);
    let lab_bytes = io::read_capped(labels, "IDX labels", io::DEFAULT_CAP)?;
    let lab = idx::parse_idx_kind(&lab_bytes, &lab_label, IdxKind::Labels)?;
    let (n, h, w) = match img.dims[..] {
        [n, h, w] => (n, h, w),
        _ => {
            return Err(DataError::BadDims {
                path: img_label,
                reason: format!("expected N x H x W, got {:?}", img.dims),
            })
        }
    };
    if lab.count() != n {
        return Err(DataError::Inconsistent {
            what: format!("{img_label} and {lab_label}"),
            reason: format!("{n} images but {} labels", lab.count()),
        });
    }
    if n == 0 {
        return Err(DataError::Empty {
            what: img_label,
            reason: "0 images declared".into(),
        });
    }
    Dataset::from_bytes(img.data, lab.data, 1, h, w, name)
}

/// The shared layout first, then torchvision's, then the directory itself.
const CIFAR_DIRS: [&str; 3] = ["cifar10-jpeg", "cifar-10-batches-bin", ""];

/// Loads a CIFAR-10 split from `dir` in any of the layouts of the module doc.
pub fn load_cifar10(dir: &Path, split: CifarSplit) -> Result<Dataset, DataError> {
    require_dir(dir, "CIFAR-10 data directory")?;
    let stems: Vec<String> = match split {
        CifarSplit::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        CifarSplit::Test => vec!["test_batch.bin".into()],
    };
    let name = match split {
        CifarSplit::Train => "cifar10-train",
        CifarSplit::Test => "cifar10-test",
    };
    let binary = CIFAR_DIRS
        .iter()
        .map(|sub| {
            let base = dir.join(sub);
            stems
                .iter()
                .filter_map(|s| find_file(&base, s))
                .collect::<Vec<_>>()
        })
        .find(|f| !f.is_empty());
    if let Some(files) = binary {
        return load_cifar_files(&files, name);
    }
    let python = CIFAR_PY_DIRS
        .iter()
        .map(|sub| {
            let base = dir.join(sub);
            stems
                .iter()
                .map(|s| base.join(s.trim_end_matches(".bin")))
                .filter(|p| p.is_file())
                .collect::<Vec<_>>()
        })
        .find(|f| !f.is_empty());
    match python {
        Some(files) => load_cifar_pickles(&files, name),
        None => Err(DataError::Missing {
            path: dir.to_path_buf(),
            what: format!(
                "CIFAR-10 {} files: looked for {}[.gz] in cifar10-jpeg/, cifar-10-batches-bin/ and ., \
                 and for the python batches (without .bin) in cifar-10-batches-py/ and .",
                match split {
                    CifarSplit::Train => "training",
                    CifarSplit::Test => "test",
                },
                stems.join(", ")
            ),
        }),
    }
}

/// torchvision's python layout, then the directory itself.
const CIFAR_PY_DIRS: [&str; 2] = ["cifar-10-batches-py", ""];

/// Loads and concatenates CIFAR-10 python batches ([`pickle`]), in the order given.
pub fn load_cifar_pickles(files: &[PathBuf], name: &str) -> Result<Dataset, DataError> {
    load_cifar_batches(
        files,
        name,
        "CIFAR-10 python batch",
        pickle::parse_cifar_pickle,
    )
}

/// Loads and concatenates CIFAR-10 binary files, in the order given.
pub fn load_cifar_files(files: &[PathBuf], name: &str) -> Result<Dataset, DataError> {
    load_cifar_batches(files, name, "CIFAR-10 batch", cifar::parse_cifar_records)
}

/// A parser of one CIFAR-10 batch file's bytes (named by the path) into its
/// labels and pixels.
type ParseBatch = fn(&[u8], &str) -> Result<(Vec<u8>, Vec<u8>), DataError>;

/// Reads each of `files` (a `what`, size-capped), parses it into labels and
/// pixels with `parse`, and concatenates them into one 3 x 32 x 32 data set.
fn load_cifar_batches(
    files: &[PathBuf],
    name: &str,
    what: &str,
    parse: ParseBatch,
) -> Result<Dataset, DataError> {
    let mut labels = Vec::new();
    let mut pixels = Vec::new();
    for f in files {
        let bytes = io::read_capped(f, what, io::DEFAULT_CAP)?;
        let (l, p) = parse(&bytes, &f.display().to_string())?;
        labels.extend_from_slice(&l);
        pixels.extend_from_slice(&p);
    }
    if labels.is_empty() {
        return Err(DataError::Empty {
            what: name.into(),
            reason: format!("no {what} files given"),
        });
    }
    Dataset::from_bytes(
        pixels,
        labels,
        cifar::CHANNELS,
        cifar::SIDE,
        cifar::SIDE,
        name,
    )
}

impl Dataset {
    /// Builds a dataset from `u8` pixels (`N * C * H * W`, channel-major per
    /// image) scaled to `[0, 1]`, checking every size.
    pub fn from_bytes(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        channels: usize,
        height: usize,
        width: usize,
        name: &str,
    ) -> Result<Dataset, DataError> {
        let features = channels
            .checked_mul(height)
            .and_then(|x| x.checked_mul(width))
            .filter(|&f| f > 0)
            .ok_or_else(|| DataError::BadDims {
                path: name.into(),
                reason: format!("{channels} x {height} x {width} is not a valid image shape"),
            })?;
        let n = labels.len();
        if n.checked_mul(features) != Some(pixels.len()) {
            return Err(DataError::Inconsistent {
                what: name.into(),
                reason: format!(
                    "{n} labels need {n} x {features} pixels, got {}",
                    pixels.len()
                ),
            });
        }
        let data: Vec<f32> = pixels.iter().map(|&b| f32::from(b) / 255.0).collect();
        let images =
            Array2::from_shape_vec((n, features), data).map_err(|e| DataError::Inconsistent {
                what: name.into(),
                reason: e.to_string(),
            })?;
        Ok(Dataset {
            images,
            labels,
            channels,
            height,
            width,
            name: name.into(),
        })
    }

    /// `H * W`, after checking that the fields describe the image matrix
    /// (the fields are public, so a hand-built dataset may not).
    pub fn plane(&self) -> Result<usize, DataError> {
        let plane = self.height.checked_mul(self.width).filter(|&p| p > 0);
        match plane {
            Some(p)
                if self.channels.checked_mul(p) == Some(self.features())
                    && self.images.nrows() == self.labels.len() =>
            {
                Ok(p)
            }
            _ => Err(DataError::BadDims {
                path: self.name.clone(),
                reason: format!(
                    "{} x {} x {} images with {} features per row, {} rows and {} labels",
                    self.channels,
                    self.height,
                    self.width,
                    self.features(),
                    self.images.nrows(),
                    self.labels.len()
                ),
            }),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `1 + max label` (0 when empty): the K of a first-K-classes subset.
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// `C * H * W`.
    pub fn features(&self) -> usize {
        self.images.ncols()
    }

    /// Samples per class, indexed by label (length [`Self::num_classes`]).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The samples at `indices` (in that order), named `name`.
    pub fn select(&self, indices: &[usize], name: String) -> Result<Dataset, DataError> {
        self.plane()?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: format!("index {bad} out of range for {} samples", self.len()),
            });
        }
        Ok(Dataset {
            images: self.images.select(Axis(0), indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            name,
        })
    }

    /// The samples with label `< k`, in file order.
    pub fn first_classes(&self, k: usize) -> Result<Dataset, DataError> {
        if k == 0 {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: "first_classes(k) needs k >= 1".into(),
            });
        }
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| usize::from(self.labels[i]) < k)
            .collect();
        if idx.is_empty() {
            return Err(DataError::Empty {
                what: self.name.clone(),
                reason: format!("no sample has a label below {k}"),
            });
        }
        self.select(&idx, format!("{}-k{k}", self.name))
    }

    /// Per class present, the indices of its samples in file order; errors if a
    /// class has fewer than `per_class`.
    fn class_indices(&self, per_class: usize) -> Result<Vec<Vec<usize>>, DataError> {
        if per_class == 0 {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: "per_class must be at least 1".into(),
            });
        }
        if self.is_empty() {
            return Err(DataError::Empty {
                what: self.name.clone(),
                reason: "cannot sample classes from an empty dataset".into(),
            });
        }
        let mut by_class = vec![Vec::new(); self.num_classes()];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[usize::from(l)].push(i);
        }
        by_class.retain(|v| !v.is_empty());
        if let Some(short) = by_class.iter().find(|v| v.len() < per_class) {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: format!(
                    "class {} has {} samples, fewer than the {per_class} per class requested",
                    self.labels[short[0]],
                    short.len()
                ),
            });
        }
        Ok(by_class)
    }

    /// Exactly `per_class` samples of every class present, drawn without
    /// replacement by a ChaCha8 generator seeded with `seed` (classes in label
    /// order), returned in file order.
    pub fn balanced(&self, per_class: usize, seed: u64) -> Result<Dataset, DataError> {
        let by_class = self.class_indices(per_class)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut chosen: Vec<usize> = by_class
            .iter()
            .flat_map(|members| {
                rand::seq::index::sample(&mut rng, members.len(), per_class)
                    .into_iter()
                    .map(|j| members[j])
                    .collect::<Vec<_>>()
            })
            .collect();
        chosen.sort_unstable();
        self.select(&chosen, format!("{}-bal{per_class}-s{seed}", self.name))
    }

    /// The first `per_class` samples of every class present, in file order.
    pub fn take_balanced_prefix(&self, per_class: usize) -> Result<Dataset, DataError> {
        let by_class = self.class_indices(per_class)?;
        let mut chosen: Vec<usize> = by_class
            .iter()
            .flat_map(|m| m[..per_class].iter().copied())
            .collect();
        chosen.sort_unstable();
        self.select(&chosen, format!("{}-first{per_class}", self.name))
    }

    /// The samples [`Self::take_balanced_prefix`] leaves out: every class's
    /// samples after its first `per_class`, in file order (a held-out set
    /// drawn from the same file).
    pub fn rest_after_balanced_prefix(&self, per_class: usize) -> Result<Dataset, DataError> {
        let by_class = self.class_indices(per_class)?;
        let mut rest: Vec<usize> = by_class
            .iter()
            .flat_map(|m| m[per_class..].iter().copied())
            .collect();
        rest.sort_unstable();
        self.select(&rest, format!("{}-after{per_class}", self.name))
    }

    /// Per-channel population mean and standard deviation over all samples and
    /// pixels (accumulated in `f64`, two passes). NaN when the dataset is empty.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let Ok(plane) = self.plane() else {
            return (vec![f32::NAN; self.channels], vec![f32::NAN; self.channels]);
        };
        let count = (self.len() * plane) as f64;
        let mut means = Vec::with_capacity(self.channels);
        let mut stds = Vec::with_capacity(self.channels);
        for c in 0..self.channels {
            let cols = c * plane..(c + 1) * plane;
            let block = self.images.slice(ndarray::s![.., cols]);
            let mean = block.iter().map(|&x| f64::from(x)).sum::<f64>() / count;
            let var = block
                .iter()
                .map(|&x| (f64::from(x) - mean).powi(2))
                .sum::<f64>()
                / count;
            means.push(mean as f32);
            stds.push(var.sqrt() as f32);
        }
        (means, stds)
    }

    /// `(x - mean_c) / std_c` per channel; errors unless both slices have one
    /// finite entry per channel and every `std_c > 0`.
    pub fn normalized(&self, mean: &[f32], std: &[f32]) -> Result<Dataset, DataError> {
        if mean.len() != self.channels || std.len() != self.channels {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: format!(
                    "normalisation needs {} means and stds (one per channel), got {} and {}",
                    self.channels,
                    mean.len(),
                    std.len()
                ),
            });
        }
        if let Some(c) = (0..self.channels).find(|&c| !mean[c].is_finite()) {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: format!("mean of channel {c} is {}, not finite", mean[c]),
            });
        }
        if let Some(c) = (0..self.channels).find(|&c| !(std[c].is_finite() && std[c] > 0.0)) {
            return Err(DataError::BadRequest {
                what: self.name.clone(),
                reason: format!("std of channel {c} is {}, must be finite and > 0", std[c]),
            });
        }
        let plane = self.plane()?;
        let mut out = self.clone();
        for mut row in out.images.rows_mut() {
            for (j, x) in row.iter_mut().enumerate() {
                let c = j / plane;
                *x = (*x - mean[c]) / std[c];
            }
        }
        out.name = format!("{}-norm", self.name);
        Ok(out)
    }
}
