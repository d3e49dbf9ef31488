//! Compiles the BPF programs (src/bpf/*.bpf.c) with clang and generates their Rust skeletons.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

/// The engine; the empty program the overhead benchmark measures it against; the probe
/// that tells whether BPF-LSM can be used; and an object never loaded, whose skeleton gives
/// the ring buffers' payloads Rust types (src/layout.rs).
const PROGRAMS: [&str; 4] = ["ebph", "floor", "lsm_probe", "layout"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for name in PROGRAMS {
        build(name, &out);
    }
    // Every header the programs include.
    println!("cargo:rerun-if-changed=src/bpf");
}

fn build(name: &str, out: &std::path::Path) {
    let source = format!("src/bpf/{name}.bpf.c");
    println!("cargo:rerun-if-changed={source}");
    SkeletonBuilder::new()
        .source(&source)
        .clang_args([
            // 32-bit atomics (compare-and-swap, fetch-or) need BPF ISA v3.
            "-mcpu=v3",
            "-Wall",
            "-Werror",
            "-Isrc/bpf",
        ])
        .build_and_generate(out.join(format!("{name}.skel.rs")))
        .unwrap_or_else(|e| {
            panic!("building {source} failed (is clang installed? run scripts/install-deps): {e:#}")
        });
}
