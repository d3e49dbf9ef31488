//! `ebph profiles` and `ebph profile show`.

use std::io::Write;

use anyhow::{Context, Result};
use ebph_api::client::Client;
use ebph_api::file::ProfileFile;
use ebph_api::protocol::{ProfileDetail, ProfileSummary, Target};
use ebph_api::signing::SigningKey;

use crate::table::{Align, Table};

/// List every profile.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Commands on one profile.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Show a profile: state, counters, normal time, and the learned pairs by call name.
    Show(ShowArgs),
    /// Write one profile, or every one, to a profile file (versioned, with a checksum).
    Export(ExportArgs),
    /// Add the profiles of a signed file: to the running daemon, or to a stopped daemon's
    /// store (loaded at its start).
    Import(ImportArgs),
    /// Combine the lookahead pairs of two profile files' profiles of the same executables.
    Merge(MergeArgs),
    /// Delete a profile no running process uses: its program starts a new one when it next
    /// runs.
    Delete(DeleteArgs),
    /// Make a key pair for signing profile files: NAME.key (secret) and NAME.pub (to list in
    /// trusted-keys on the hosts that import).
    Keygen(KeygenArgs),
    /// CSV: every profile's counters; with PATH|KEY, that profile's lookahead pairs; with
    /// --anomalies, the anomaly history.
    Csv(CsvArgs),
}

/// `ebph profile csv [PATH|KEY] [--anomalies]`.
#[derive(Debug, clap::Args)]
pub struct CsvArgs {
    /// One profile: its pairs, one row per (call, prev, distance).
    target: Option<String>,
    /// The anomaly history instead (the last 100,000).
    #[arg(long, conflicts_with = "target")]
    anomalies: bool,
    /// With a profile: the programs it executed, one row each (path, key, normal).
    #[arg(long, requires = "target", conflicts_with = "endpoints")]
    execs: bool,
    /// With a profile: the endpoints it used, one row each (endpoint, normal).
    #[arg(long, requires = "target")]
    endpoints: bool,
}

/// `ebph profile export [PATH|KEY] [-o FILE] [--sign KEY]`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The executable's path or the profile's key [default: every profile].
    target: Option<String>,
    /// Where to write the file [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Sign the file with this signing key (from `ebph profile keygen`).
    #[arg(long, value_name = "KEY")]
    sign: Option<std::path::PathBuf>,
}

/// `ebph profile import FILE`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The profile file.
    file: std::path::PathBuf,
    /// Accept a file that no key in trusted-keys signed.
    #[arg(long)]
    allow_unsigned: bool,
    /// With no daemon running: the state directory to add the profiles to.
    #[arg(long, value_name = "DIR", default_value = ebph_api::paths::DEFAULT_STATE_DIR)]
    state_dir: std::path::PathBuf,
    /// With no daemon running: the configuration whose trusted-keys are used.
    #[arg(long, value_name = "FILE", default_value = ebph_api::paths::DEFAULT_CONFIG)]
    config: std::path::PathBuf,
}

/// `ebph profile merge A B -o FILE`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The first profile file.
    first: std::path::PathBuf,
    /// The second profile file.
    second: std::path::PathBuf,
    /// Where to write the merged file [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Merge profiles of one key even if the files give them different paths.
    #[arg(long)]
    force: bool,
    /// Sign the merged file with this signing key.
    #[arg(long, value_name = "KEY")]
    sign: Option<std::path::PathBuf>,
}

/// `ebph profile delete PATH|KEY`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The executable's path, or the profile's key.
    target: String,
}

/// `ebph profile keygen NAME`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the keys: NAME.key and NAME.pub.
    name: std::path::PathBuf,
}

fn read_file(path: &std::path::Path) -> Result<ProfileFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    ProfileFile::parse(&text).with_context(|| format!("{}", path.display()))
}

fn write_out(text: &str, output: Option<&std::path::Path>) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            writeln!(std::io::stdout().lock(), "{text}")?;
            Ok(())
        }
    }
}

/// `ebph profile show PATH|KEY`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The executable's path, or the profile's key (MAJOR:MINOR:INODE).
    target: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn list(client: &Client, args: ListArgs) -> Result<()> {
    let profiles: Vec<ProfileSummary> = client.profiles()?;
    if args.json {
        return super::print_json(&profiles);
    }
    let mut table = Table::new(&[
        ("KEY", Align::Left),
        ("STATUS", Align::Left),
        ("TRAIN_COUNT", Align::Right),
        ("SEQUENCES", Align::Right),
        ("ANOMALIES", Align::Right),
        ("PAIRS", Align::Right),
        ("MEMORY", Align::Right),
        ("PATH", Align::Left),
    ]);
    for p in profiles {
        table.row(vec![
            p.key,
            p.status,
            p.train_count.to_string(),
            p.sequences.to_string(),
            p.anomalies.to_string(),
            p.lookahead_pairs.to_string(),
            super::bytes(p.memory_bytes),
            p.path,
        ]);
    }
    table.write(&mut std::io::stdout().lock())?;
    Ok(())
}

pub fn run(client: &Client, command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Show(args) => show(client, args),
        ProfileCommand::Export(args) => {
            let target = args.target.as_deref().map(Target::named);
            let mut file = client.export(target.as_ref())?;
            sign(&mut file, args.sign.as_deref())?;
            write_out(&file.to_text(), args.output.as_deref())?;
            if let Some(path) = &args.output {
                eprintln!(
                    "exported {} profiles to {}{}",
                    file.profiles.len(),
                    path.display(),
                    if file.signature.is_some() {
                        ", signed"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        ProfileCommand::Import(args) => import(client, args),
        ProfileCommand::Csv(args) => csv_out(client, args),
        ProfileCommand::Merge(args) => {
            let mut merged =
                read_file(&args.first)?.merge(&read_file(&args.second)?, args.force)?;
            sign(&mut merged, args.sign.as_deref())?;
            write_out(&merged.to_text(), args.output.as_deref())
        }
        ProfileCommand::Keygen(args) => keygen(args),
        ProfileCommand::Delete(args) => {
            let done = client.delete_profile(Target::named(&args.target))?;
            writeln!(
                std::io::stdout().lock(),
                "deleted the profile of {} ({})",
                done.path,
                done.key
            )?;
            Ok(())
        }
    }
}

/// Signs `file` with the key at `key`, if one is given.
fn sign(file: &mut ProfileFile, key: Option<&std::path::Path>) -> Result<()> {
    if let Some(key) = key {
        file.sign(&SigningKey::read(key)?);
    }
    Ok(())
}

fn keygen(args: KeygenArgs) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::io::stdout().lock();
    let with = |ext: &str| {
        let mut name = args.name.clone().into_os_string();
        name.push(ext);
        std::path::PathBuf::from(name)
    };
    let (secret, public) = (with(".key"), with(".pub"));
    let key = SigningKey::generate().context("reading random numbers")?;
    // Never over an existing key; the secret readable by its owner alone.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret)
        .and_then(|mut f| f.write_all(key.to_text().as_bytes()))
        .with_context(|| format!("writing {}", secret.display()))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&public)
        .and_then(|mut f| f.write_all(key.public().to_text().as_bytes()))
        .with_context(|| format!("writing {}", public.display()))?;
    writeln!(
        out,
        "wrote {} (keep it secret) and {} (list it in trusted-keys where profiles are imported)",
        secret.display(),
        public.display()
    )?;
    Ok(())
}

fn import(client: &Client, args: ImportArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let file = read_file(&args.file)?;
    // The running daemon checks the signature against its own trusted keys.
    match client.import(file.clone(), args.allow_unsigned) {
        Ok(done) => {
            writeln!(
                out,
                "imported {} profiles into the running daemon{}",
                done.imported,
                done.signed_by
                    .as_deref()
                    .map_or(" (unsigned file)".to_owned(), |k| format!(
                        ", signed by {k}"
                    ))
            )?;
            for path in done.present {
                writeln!(out, "already there, left as it is: {path}")?;
            }
            return Ok(());
        }
        Err(ebph_api::client::ClientError::NotRunning(_)) => {}
        Err(e) => return Err(e).with_context(|| format!("{}", args.file.display())),
    }
    // No daemon: into its store, checked against the configuration's trusted keys.
    let config = ebph_daemon::Config::load(
        &args.config,
        args.config != std::path::Path::new(ebph_api::paths::DEFAULT_CONFIG),
    )?;
    let trusted = config.read_trusted_keys()?;
    let signed_by = ebph_daemon::check_trust(&file, &trusted, args.allow_unsigned)
        .with_context(|| format!("{}", args.file.display()))?;
    let stored = file
        .profiles
        .iter()
        .map(|p| p.to_stored())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}", args.file.display()))?;
    let db = ebph_daemon::import_offline(&args.state_dir, &stored)?;
    writeln!(
        out,
        "imported {} profiles into {}{}; they are loaded when the daemon starts",
        stored.len(),
        db.display(),
        signed_by.map_or(" (unsigned file)".to_owned(), |k| format!(
            ", signed by {k}"
        ))
    )?;
    Ok(())
}

fn show(client: &Client, args: ShowArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let p: ProfileDetail = client.profile(&Target::named(&args.target))?;
    if args.json {
        return super::print_json(&p);
    }
    let s = &p.summary;
    writeln!(out, "path            {}", s.path)?;
    writeln!(out, "key             {}", s.key)?;
    writeln!(out, "status          {}", s.status)?;
    if let Some(t) = &s.normal_time {
        writeln!(out, "normal at       {t}")?;
    }
    writeln!(out, "train count     {}", s.train_count)?;
    writeln!(out, "last mod count  {}", s.last_mod_count)?;
    writeln!(out, "sequences       {}", s.sequences)?;
    writeln!(out, "anomalies       {}", s.anomalies)?;
    if s.status == "normal" {
        writeln!(
            out,
            "repeats         {}{}",
            s.repeats,
            if s.train_partial {
                " (train table emptied since normal: nothing is accepted)"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "pairs           {}", s.lookahead_pairs)?;
    let fullest = p.ngrams.iter().max_by_key(|n| n.bits.len());
    writeln!(
        out,
        "n-gram bits     {}{}",
        s.ngram_bits,
        fullest.map_or_else(String::new, |n| format!(
            " (fullest: {} with {}, false-hit rate {:.2} %)",
            n.call,
            n.bits.len(),
            100.0 * n.false_hit_rate
        ))
    )?;
    writeln!(out, "kernel memory   {}", super::bytes(s.memory_bytes))?;
    writeln!(out)?;
    let programs: Vec<(bool, &str)> = p
        .execs
        .programs
        .iter()
        .map(|e| (e.normal, e.path.as_str()))
        .collect();
    let more = programs
        .is_empty()
        .then_some("(none the daemon knows of now)".to_owned());
    listing(
        &mut out,
        "Programs it executed",
        p.execs.bits,
        p.execs.false_hit_rate,
        &programs,
        more,
    )?;
    let endpoints: Vec<(bool, &str)> = p
        .endpoints
        .listed
        .iter()
        .map(|e| (e.normal, e.endpoint.as_str()))
        .collect();
    let more = (endpoints.len() >= ebph_core::ENDPOINTS_LISTED).then(|| {
        format!(
            "(the first {} of a table; more were learned)",
            ebph_core::ENDPOINTS_LISTED
        )
    });
    listing(
        &mut out,
        "Endpoints it used",
        p.endpoints.bits,
        p.endpoints.false_hit_rate,
        &endpoints,
        more,
    )?;
    writeln!(
        out,
        "Each call, and the calls seen before it at distances 1-8 (--json: every pair):"
    )?;
    for line in pairs_by_call(&p.pairs, 100) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A section of `profile show` for what a profile keeps as bits beside its calls (programs
/// executed, endpoints): a heading with the bits and their false-hit rate, each item marked
/// `*` when normal, and a last remark; nothing when there is nothing to show.
fn listing(
    out: &mut impl Write,
    heading: &str,
    bits: u64,
    false_hit_rate: f64,
    items: &[(bool, &str)],
    remark: Option<String>,
) -> std::io::Result<()> {
    if bits == 0 && items.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{heading} ({bits} bits, false-hit rate {:.2} %; * = normal for it):",
        100.0 * false_hit_rate
    )?;
    for (normal, item) in items {
        writeln!(out, "  {} {item}", if *normal { "*" } else { " " })?;
    }
    if let Some(remark) = remark {
        writeln!(out, "    {remark}")?;
    }
    writeln!(out)
}

/// The pairs grouped by their later call, one call a paragraph: the call, then each earlier
/// call with its distances as ranges (`brk 1-3,5`), wrapped at `width` columns.
fn pairs_by_call(pairs: &[ebph_api::protocol::Pair], width: usize) -> Vec<String> {
    let mut calls: Vec<(&str, Vec<String>)> = Vec::new();
    for pair in pairs {
        let item = format!("{} {}", pair.prev, ranges(&pair.distances));
        match calls.last_mut() {
            Some((call, items)) if *call == pair.call => items.push(item),
            _ => calls.push((&pair.call, vec![item])),
        }
    }
    let indent = calls.iter().map(|(c, _)| c.len()).max().unwrap_or(0) + 2;
    let mut lines = Vec::new();
    for (call, items) in calls {
        let mut line = format!("{call:<indent$}");
        let mut first = true;
        for item in items {
            if !first && line.len() + 2 + item.len() > width {
                lines.push(std::mem::replace(&mut line, " ".repeat(indent)));
                first = true;
            }
            if !first {
                line.push_str(", ");
            }
            line.push_str(&item);
            first = false;
        }
        lines.push(line);
    }
    lines
}

/// Distances as ranges: `[1, 2, 3, 5]` is `1-3,5`.
fn ranges(distances: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < distances.len() {
        let start = distances[i];
        let mut end = start;
        while i + 1 < distances.len() && distances[i + 1] == end + 1 {
            i += 1;
            end = distances[i];
        }
        out.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    out.join(",")
}

fn csv_out(client: &Client, args: CsvArgs) -> Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    if args.anomalies {
        let anomalies: Vec<ebph_api::protocol::Anomaly> = client.anomalies(100_000)?;
        w.write_record([
            "time", "pid", "tid", "key", "path", "syscall", "misses", "lfc", "sequence",
        ])?;
        for a in anomalies {
            w.write_record([
                a.time,
                a.pid.to_string(),
                a.tid.to_string(),
                a.key,
                a.path,
                a.syscall,
                a.misses.to_string(),
                a.lfc.to_string(),
                a.sequence.join(" "),
            ])?;
        }
    } else if let Some(target) = &args.target {
        let p: ProfileDetail = client.profile(&Target::named(target))?;
        let normal = |n: bool| if n { "true" } else { "false" };
        if args.execs {
            w.write_record(["key", "path", "program", "program_key", "normal"])?;
            for e in &p.execs.programs {
                w.write_record([
                    p.summary.key.as_str(),
                    p.summary.path.as_str(),
                    e.path.as_str(),
                    e.key.as_str(),
                    normal(e.normal),
                ])?;
            }
            w.flush()?;
            return Ok(());
        }
        if args.endpoints {
            w.write_record(["key", "path", "endpoint", "normal"])?;
            for e in &p.endpoints.listed {
                w.write_record([
                    p.summary.key.as_str(),
                    p.summary.path.as_str(),
                    e.endpoint.as_str(),
                    normal(e.normal),
                ])?;
            }
            w.flush()?;
            return Ok(());
        }
        w.write_record(["key", "path", "call", "prev", "distance"])?;
        for pair in &p.pairs {
            for d in &pair.distances {
                w.write_record([
                    p.summary.key.as_str(),
                    p.summary.path.as_str(),
                    pair.call.as_str(),
                    pair.prev.as_str(),
                    &d.to_string(),
                ])?;
            }
        }
    } else {
        let profiles: Vec<ProfileSummary> = client.profiles()?;
        w.write_record([
            "key",
            "path",
            "status",
            "train_count",
            "last_mod_count",
            "sequences",
            "anomalies",
            "lookahead_pairs",
            "memory_bytes",
            "normal_time",
        ])?;
        for p in profiles {
            w.write_record([
                p.key,
                p.path,
                p.status,
                p.train_count.to_string(),
                p.last_mod_count.to_string(),
                p.sequences.to_string(),
                p.anomalies.to_string(),
                p.lookahead_pairs.to_string(),
                p.memory_bytes.to_string(),
                p.normal_time.unwrap_or_default(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebph_api::protocol::Pair;

    fn pair(call: &str, prev: &str, distances: &[u8]) -> Pair {
        Pair {
            call: call.into(),
            prev: prev.into(),
            distances: distances.to_vec(),
        }
    }

    #[test]
    fn distances_read_as_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 5]), "1-3,5");
        assert_eq!(ranges(&[2]), "2");
        assert_eq!(ranges(&[1, 3, 4, 6, 7, 8]), "1,3-4,6-8");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn pairs_are_grouped_by_call_and_wrapped() {
        let pairs = [
            pair("brk", "brk", &[1, 2, 3]),
            pair("brk", "mmap", &[1]),
            pair("write", "brk", &[1, 2]),
            pair("write", "newfstatat", &[4, 5, 6, 7, 8]),
            pair("write", "write", &[1]),
        ];
        assert_eq!(
            pairs_by_call(&pairs, 100),
            [
                "brk    brk 1-3, mmap 1",
                "write  brk 1-2, newfstatat 4-8, write 1",
            ]
        );
        // Narrow: each line holds what fits, continued under the first.
        assert_eq!(
            pairs_by_call(&pairs, 25),
            [
                "brk    brk 1-3, mmap 1",
                "write  brk 1-2",
                "       newfstatat 4-8",
                "       write 1",
            ]
        );
    }
}
