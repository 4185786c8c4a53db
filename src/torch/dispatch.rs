//! Which CPU code paths libtorch takes, pinned. libtorch picks its
//! vectorised kernels by CPU capability (`ATEN_CPU_CAPABILITY`: default,
//! avx2, avx512), MKL picks its GEMM kernels by CPU and splits them by
//! thread count (`MKL_CBWR`), oneDNN picks its convolutions by ISA
//! (`ONEDNN_MAX_CPU_ISA`). Each choice changes the rounding of a training
//! step; SGD then amplifies the difference (measured: the capabilities
//! `default` and `avx512` end a 20-epoch MLP run 1.3% apart in the weights,
//! `avx2` and `avx512` 4e-7 apart, and MKL with 1 and 2 threads 2e-7 apart).
//!
//! [`pin_cpu_dispatch`] (called by the binary before libtorch runs) sets,
//! on a CPU with AVX2 and FMA and for each variable the environment does not
//! already set: `ATEN_CPU_CAPABILITY=avx2`, `MKL_CBWR=AVX2,STRICT` (MKL's
//! conditional numerical reproducibility: the AVX2 kernels, the same result
//! for any thread count) and `ONEDNN_MAX_CPU_ISA=AVX2`. With them a run is
//! bitwise the same for `--threads 1` and `2` and on any AVX2 machine with
//! this libtorch. `SUPERLINEAR_CPU_DISPATCH=native` leaves all three to the
//! libraries (the fastest paths of the CPU at hand, no longer comparable
//! bitwise across machines or thread counts). [`cpu_dispatch`] states what
//! is in force; run records keep it in their provenance.

/// Opt-out: `SUPERLINEAR_CPU_DISPATCH=native` keeps the libraries' own choice.
pub const DISPATCH_ENV: &str = "SUPERLINEAR_CPU_DISPATCH";

/// The variables [`pin_cpu_dispatch`] sets and their pinned values.
pub const PINNED: [(&str, &str); 3] = [
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("MKL_CBWR", "AVX2,STRICT"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
];

/// Whether this CPU runs AVX2 and FMA code (the pinned paths).
pub fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sets the [`PINNED`] variables the environment leaves unset (module doc).
/// Call it before any libtorch call and before other threads start: the
/// libraries read the variables once, at their first use.
pub fn pin_cpu_dispatch() {
    let native = std::env::var(DISPATCH_ENV).is_ok_and(|v| v == "native");
    if native || !cpu_has_avx2() {
        return;
    }
    for (name, value) in PINNED {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

/// The dispatch in force, as `NAME=value` pairs of the [`PINNED`] variables
/// (`NAME=native` for one left to the library).
pub fn cpu_dispatch() -> String {
    PINNED
        .iter()
        .map(|(name, _)| {
            let v = std::env::var(name).unwrap_or_else(|_| "native".into());
            format!("{name}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
