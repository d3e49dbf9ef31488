//! Holds the engine (or, with `floor`, the empty program) attached for a while, for
//! measuring by hand. Usage: hold SECONDS [floor|normal]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = std::time::Duration::from_secs(args[1].parse().expect("SECONDS"));
    match args.get(2).map(String::as_str) {
        Some("floor") => {
            let _floor = ebph_bpf::Floor::attach().expect("attach the floor");
            std::thread::sleep(seconds);
        }
        mode => {
            let mut engine = ebph_bpf::Engine::load(&ebph_bpf::Capacity::default()).expect("load");
            if mode == Some("normal") {
                engine.set_settings(&ebph_core::Settings {
                    normal_wait: std::time::Duration::ZERO,
                    ..Default::default()
                });
            }
            engine.attach().expect("attach");
            std::thread::sleep(seconds);
        }
    }
}
