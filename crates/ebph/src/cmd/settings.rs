//! `ebph get` and `ebph set`.

use anyhow::{bail, Result};
use ebph_api::client::Client;
use ebph_api::protocol::SettingValue;
use std::io::Write;

use crate::table::{Align, Table};

/// Show the settings, or one of them.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Only this setting (its value alone is printed).
    setting: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Change settings now (durations like 2s or 7d); they are kept across restarts. Several
/// settings given at once are checked together: `ebph set max-delay 1h delay-factor 1m`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The setting, e.g. normal-wait.
    setting: String,
    /// Its new value.
    value: String,
    /// More settings and values to change at the same time: NAME VALUE ...
    #[arg(value_name = "NAME VALUE")]
    more: Vec<String>,
    /// Accept an allowlist entry that does not exist (shown as a warning by `ebph get` and
    /// `ebph status`).
    #[arg(long)]
    force: bool,
}

pub fn get(client: &Client, args: GetArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let settings: Vec<SettingValue> = client.settings()?;
    if let Some(name) = &args.setting {
        let wanted = name.replace('_', "-");
        let Some(s) = settings.iter().find(|s| s.name == wanted) else {
            let known: Vec<&str> = settings.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "unknown setting {name:?} (known settings: {})",
                known.join(", ")
            );
        };
        if args.json {
            return super::print_json(s);
        }
        writeln!(out, "{}", s.value)?;
        return Ok(());
    }
    if args.json {
        return super::print_json(&settings);
    }
    let mut table = Table::new(&[
        ("SETTING", Align::Left),
        ("VALUE", Align::Left),
        ("FROM", Align::Left),
        ("MEANING", Align::Left),
    ]);
    for s in &settings {
        table.row(vec![
            s.name.clone(),
            s.value.clone(),
            s.source.clone(),
            s.description.clone(),
        ]);
    }
    table.write(&mut out)?;
    // What a restart would change, and what was accepted only with --force.
    for s in &settings {
        if let Some(then) = &s.at_restart {
            writeln!(
                out,
                "at restart: {} = {then} (the configuration file's value wins)",
                s.name
            )?;
        }
        if let Some(warning) = &s.warning {
            writeln!(out, "warning: {}: {warning}", s.name)?;
        }
    }
    Ok(())
}

pub fn set(client: &Client, args: SetArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.more.len() % 2 != 0 {
        bail!(
            "{} has no value: give settings as NAME VALUE pairs",
            args.more.last().map_or("", String::as_str)
        );
    }
    let mut values = vec![(args.setting.as_str(), args.value.as_str())];
    for pair in args.more.chunks(2) {
        values.push((pair[0].as_str(), pair[1].as_str()));
    }
    let settings = client.set_settings(&values, args.force)?;
    for (name, _) in &values {
        let wanted = name.replace('_', "-");
        let Some(s) = settings.iter().find(|s| s.name == wanted) else {
            continue;
        };
        writeln!(out, "{} = {}", s.name, s.value)?;
        if let Some(then) = &s.at_restart {
            eprintln!(
                "ebph: the configuration file sets {} = {then}: that value applies again at the next restart or reload",
                s.name
            );
        }
        if let Some(warning) = &s.warning {
            eprintln!("ebph: warning: {}: {warning}", s.name);
        }
        // How the value works on this kernel, where kernels differ.
        if let Some(note) = &s.note {
            eprintln!("ebph: on this kernel, {note}");
        }
    }
    Ok(())
}
