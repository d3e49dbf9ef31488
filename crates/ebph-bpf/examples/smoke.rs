//! Loads and attaches the engine, runs `ls`, and prints what the engine saw.
use std::time::Duration;

fn main() {
    let mut engine = ebph_bpf::Engine::load(&ebph_bpf::Capacity::default()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    engine.attach().unwrap();
    let mut events = Vec::new();
    {
        let sub = engine.subscribe(|e| events.push(e)).unwrap();
        std::process::Command::new("ls").arg("/").output().unwrap();
        sub.poll(Duration::from_millis(100)).unwrap();
    }
    for e in events.iter().take(5) {
        println!("{e:?}");
    }
    println!("{:?}", engine.stats());
    for (key, slot) in engine.profile_slots().unwrap().iter().take(5) {
        let p = engine.profile(*slot).unwrap();
        println!(
            "{key} slot {slot}: train_count {} pairs {} memory {}",
            p.train_count,
            p.train.lookahead_pairs(),
            engine.profile_memory(*slot).unwrap()
        );
    }
}
