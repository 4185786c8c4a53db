//! Fashion-MNIST as a data set choice: the name parses and serialises as
//! `fashion-mnist`, the loader reads MNIST's IDX files from `fashion-mnist/`,
//! torchvision's `FashionMNIST/raw/` or the directory itself, names the
//! missing file otherwise, and reads the Debian package
//! `dataset-fashion-mnist` when it is installed (skipped, with a message,
//! when it is not).

use std::path::Path;

use superlinear::data::{load_fashion_mnist, DataError};
use superlinear::spec::Dataset;

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `n` images of 28 x 28 with pixel `(i * 5 + j) % 256`, labels `i % 10`.
fn write_tiny(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let pixels: Vec<u8> = (0..n * 784).map(|j| ((j * 5) % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx(0x803, &[n as u32, 28, 28], &pixels),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx(0x801, &[n as u32], &labels),
    )
    .unwrap();
}

#[test]
fn the_name_parses_and_serialises() {
    let d: Dataset = "fashion-mnist".parse().unwrap();
    assert_eq!(d, Dataset::FashionMnist);
    assert_eq!(serde_json::to_string(&d).unwrap(), "\"fashion-mnist\"");
    assert_eq!(d.chw(), (1, 28, 28));
    let e = "fashion".parse::<Dataset>().unwrap_err().to_string();
    assert!(e.contains("fashion-mnist"), "{e}");
}

#[test]
fn every_layout_reads_the_same_images() {
    for sub in ["fashion-mnist", "FashionMNIST/raw", ""] {
        let root = tempfile::tempdir().unwrap();
        write_tiny(&root.path().join(sub), 20);
        let ds = load_fashion_mnist(root.path()).unwrap();
        assert_eq!(ds.labels.len(), 20, "{sub}");
        assert_eq!(ds.labels[13], 3);
        assert_eq!((ds.channels, ds.height, ds.width), (1, 28, 28));
        assert_eq!(ds.images[[1, 0]], ((784 * 5) % 256) as f32 / 255.0);
        assert_eq!(ds.name, "fashion-mnist");
    }
}

#[test]
fn missing_files_are_named() {
    let root = tempfile::tempdir().unwrap();
    let e = load_fashion_mnist(root.path()).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("Fashion-MNIST"), "{e}");
    write_tiny(&root.path().join("fashion-mnist"), 3);
    std::fs::remove_file(root.path().join("fashion-mnist/train-labels-idx1-ubyte")).unwrap();
    let e = load_fashion_mnist(root.path()).unwrap_err().to_string();
    assert!(e.contains("train-labels-idx1-ubyte"), "{e}");
}

#[test]
fn the_debian_package_reads_when_installed() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!(
            "skipped: {} not present (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let ds = load_fashion_mnist(dir).unwrap();
    assert_eq!(ds.labels.len(), 60_000);
    assert_eq!(ds.class_counts(), vec![6000; 10]);
    let root = load_fashion_mnist(Path::new("/usr/share/datasets")).unwrap();
    assert_eq!(root.labels, ds.labels);
}
