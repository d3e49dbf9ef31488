//! What the engine finds out about the kernel by loading: its requirements and BPF-LSM.

use ebph_core::Settings;
use ebph_test_support::lab::engine;
use ebph_test_support::one_at_a_time;

#[test]
fn where_the_engine_loads_nothing_is_reported_missing() {
    let _one = one_at_a_time();
    let Some(_engine) = engine(&Settings::default(), false) else {
        return;
    };
    // A false "too old" would turn a load failure of ours into a wrong diagnosis.
    assert_eq!(ebph_bpf::missing_requirements(), Vec::<String>::new());
}

#[test]
fn bpf_lsm_is_used_exactly_when_the_probe_says_so_and_a_fallback_says_why() {
    let _one = one_at_a_time();
    let Some(engine) = engine(&Settings::default(), false) else {
        return;
    };
    let lsm = engine.bpf_lsm();
    match engine.execve_suspension() {
        "bpf-lsm" => assert!(lsm.is_available(), "{lsm:?}"),
        "sigkill" => assert!(
            lsm.reason().is_some_and(|why| why.len() > 20),
            "a fallback must say why: {lsm:?}"
        ),
        other => panic!("unknown execve suspension {other:?}"),
    }
    // The kernel matrix says which its guests must use.
    if let Some(expected) = ebph_test_support::expected_execve_suspension() {
        assert_eq!(engine.execve_suspension(), expected, "{lsm:?}");
    }
}
