//! `ebph generate`: man pages and shell completions, written from the command line's own
//! definition (for packages: `scripts/package`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap_complete::Shell;

/// Write the man pages (ebph.1 and one per subcommand, ebph-profile-show.1, ...) or the
/// completions of a shell into a directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to write: `man`, or the completions of `bash`, `zsh` or `fish`.
    #[arg(value_enum)]
    what: What,
    /// The directory to write into (created if missing).
    dir: PathBuf,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum What {
    Man,
    Bash,
    Zsh,
    Fish,
}

pub fn run(mut command: clap::Command, args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let written = match args.what {
        What::Man => {
            clap_mangen::generate_to(command, &args.dir)
                .with_context(|| format!("writing man pages to {}", args.dir.display()))?;
            format!("man pages in {}", args.dir.display())
        }
        shell => {
            let shell = match shell {
                What::Bash => Shell::Bash,
                What::Zsh => Shell::Zsh,
                _ => Shell::Fish,
            };
            let path = clap_complete::generate_to(shell, &mut command, "ebph", &args.dir)
                .with_context(|| format!("writing completions to {}", args.dir.display()))?;
            path.display().to_string()
        }
    };
    println!("wrote {written}");
    Ok(())
}
