//! Compiles the BPF program (src/bpf/ebph.bpf.c) with clang and generates its Rust skeleton.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/ebph.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([
            // 32-bit atomics (compare-and-swap, fetch-or) need BPF ISA v3.
            "-mcpu=v3",
            "-Wall",
            "-Werror",
            "-Isrc/bpf",
        ])
        .build_and_generate(out.join("ebph.skel.rs"))
        .unwrap_or_else(|e| {
            panic!("building the BPF program failed (is clang installed? run scripts/install-deps): {e:#}")
        });
    for file in ["ebph.bpf.c", "ebph.h", "vmlinux_min.h"] {
        println!("cargo:rerun-if-changed=src/bpf/{file}");
    }
}
