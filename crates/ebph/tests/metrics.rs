//! The Prometheus endpoint, scraped for real.

use ebph_test_support::as_root;
use ebph_test_support::daemon::{metric as value, scrape, Daemon};
use ebph_test_support::programs::{copy_program, free_port, run};

#[test]
fn metrics_parse_and_move_when_calls_happen() {
    let Some(_one) = as_root() else {
        return;
    };
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(
        dir.path(),
        &["--metrics-listen", &format!("127.0.0.1:{port}")],
    );
    let before = scrape(port);
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    for _ in 0..3 {
        run(&ls, &["-la", "/usr"]);
    }
    daemon.ok(&["save"]);
    let after = scrape(port);
    let calls = |s| value(s, "ebph_syscalls_total", None);
    assert!(
        calls(&after) > calls(&before) + 100.0,
        "{} -> {}",
        calls(&before),
        calls(&after)
    );
    // A new profile (ls's copy); others may change status meanwhile, so count them all.
    let profiles = |s| {
        ["training", "frozen", "normal"]
            .iter()
            .map(|status| value(s, "ebph_profiles", Some(("status", status))))
            .sum::<f64>()
    };
    assert!(profiles(&after) > profiles(&before));
    assert!(value(&after, "ebph_saves_total", None) >= 1.0);
    assert!(value(&after, "ebph_map_used", Some(("map", "rows"))) > 0.0);
    assert_eq!(
        value(&after, "ebph_map_capacity", Some(("map", "profiles"))),
        16384.0
    );
    assert!(value(&after, "ebph_tasks_tracked", None) > 0.0);
    daemon.stop();
}
