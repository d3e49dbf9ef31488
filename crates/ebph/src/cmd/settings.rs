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

/// Change a setting now (durations like 2s or 7d); it is kept across restarts.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The setting, e.g. normal-wait.
    setting: String,
    /// Its new value.
    value: String,
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
        ("MEANING", Align::Left),
    ]);
    for s in settings {
        table.row(vec![s.name, s.value, s.description]);
    }
    table.write(&mut std::io::stdout().lock())?;
    Ok(())
}

pub fn set(client: &Client, args: SetArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let settings = client.set_setting(&args.setting, &args.value)?;
    let wanted = args.setting.replace('_', "-");
    if let Some(s) = settings.iter().find(|s| s.name == wanted) {
        writeln!(out, "{} = {}", s.name, s.value)?;
        // How the value works on this kernel, where kernels differ.
        if let Some(note) = &s.note {
            eprintln!("ebph: on this kernel, {note}");
        }
    }
    Ok(())
}
