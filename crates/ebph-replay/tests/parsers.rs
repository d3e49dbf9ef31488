//! Properties of the trace parsers: they never panic, and what they read is what was written.

use ebph_core::{Arch, Syscall};
use ebph_replay::{parse, Format};
use proptest::prelude::*;

fn process() -> impl Strategy<Value = (u32, Vec<u16>)> {
    (1u32..100_000, prop::collection::vec(0u16..450, 0..50))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for format in Format::ALL {
            for arch in Arch::ALL {
                let _ = parse(format, &bytes, arch);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[0-9a-z_ ()\\[\\]<>.:=\\-+\n\t]{0,300}") {
        for format in Format::ALL {
            let _ = parse(format, text.as_bytes(), Arch::X86_64);
        }
    }

    #[test]
    fn unm_reads_back_what_was_written(processes in prop::collection::vec(process(), 0..5)) {
        // Distinct pids, interleaved round-robin.
        let mut processes = processes;
        processes.sort_by_key(|p| p.0);
        processes.dedup_by_key(|p| p.0);
        let mut text = String::new();
        let longest = processes.iter().map(|p| p.1.len()).max().unwrap_or(0);
        for i in 0..longest {
            for (pid, calls) in &processes {
                if let Some(c) = calls.get(i) {
                    text.push_str(&format!("{pid} {c}\n"));
                }
            }
        }
        let parsed = parse(Format::Unm, text.as_bytes(), Arch::I386).unwrap();
        let expected: Vec<(u32, Vec<u16>)> = processes.into_iter().filter(|p| !p.1.is_empty()).collect();
        let got: Vec<(u32, Vec<u16>)> = parsed
            .into_iter()
            .map(|t| (t.pid.unwrap(), t.calls.iter().map(|c| c.nr()).collect()))
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn strace_reads_back_named_calls(calls in prop::collection::vec(0u16..330, 0..60), pid in 1u32..1_000_000) {
        let arch = Arch::X86_64;
        let named: Vec<Syscall> = calls
            .into_iter()
            .filter_map(|n| Syscall::new(n).filter(|c| arch.name(c.nr()).is_some()))
            .collect();
        let text: String = named
            .iter()
            // Failed calls: an exec that succeeds would end the traced program's calls.
            .map(|&c| format!("{pid}  {}(0x1, \"a(b)\") = -1 EPERM (Operation not permitted)\n", arch.display_name(c)))
            .collect();
        let parsed = parse(Format::Strace, text.as_bytes(), arch).unwrap();
        let got: Vec<Syscall> = parsed.into_iter().flat_map(|t| t.calls).collect();
        prop_assert_eq!(got, named);
    }
}
