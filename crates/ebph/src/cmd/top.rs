//! `ebph top`: a live view of what ebph sees, refreshed every second; usable over SSH.

use std::time::Duration;

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::event::{Event, EventKind};
use ebph_api::protocol::{Process, Status};
use ratatui::crossterm::event::{self, Event as Input, KeyCode, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, Paragraph, Row, Table};
use ratatui::Frame;

/// Live view: processes by LFC, the anomaly feed, and the engine's counters (q to quit).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between refreshes, e.g. 1s or 500ms.
    #[arg(long, default_value = "1s", value_parser = ebph_api::protocol::parse_duration)]
    interval: Duration,
}

/// Everything one frame shows.
#[derive(Clone, Debug)]
pub struct View {
    /// The daemon's state.
    pub status: Status,
    /// Tracked processes.
    pub processes: Vec<Process>,
    /// Recent events, oldest first.
    pub events: Vec<Event>,
}

fn fetch(client: &Client) -> Result<View> {
    let status = client.status()?;
    let processes = client.processes(false)?;
    let mut events = Vec::new();
    let types = EventKind::names_but(&["exec"]);
    client.events(false, Some(&types), |line| {
        if let Ok(e) = serde_json::from_str::<Event>(line) {
            events.push(e);
        }
        true
    })?;
    Ok(View {
        status,
        processes,
        events,
    })
}

/// Draws one frame of `view`.
pub fn draw(frame: &mut Frame, view: &View) {
    let [header, table, feed, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(10),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let s = &view.status;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("ebph {}", s.version), bold),
                Span::raw(format!(
                    "  up {}  response {}  held {}",
                    humantime::format_duration(Duration::from_secs(s.uptime_seconds)),
                    s.response,
                    s.held
                )),
            ]),
            Line::from(format!(
                "profiles {} ({} normal)  tasks {}  anomalies {}",
                s.profiles, s.normal_profiles, s.tasks, s.engine.anomalies
            )),
        ]),
        header,
    );

    let mut processes: Vec<&Process> = view.processes.iter().collect();
    processes.sort_by(|a, b| {
        b.lfc
            .cmp(&a.lfc)
            .then(b.anomalies.cmp(&a.anomalies))
            .then(a.pid.cmp(&b.pid))
    });
    let rows = processes.iter().map(|p| {
        let style = if p.held_ms.is_some() {
            Style::default().fg(Color::Red)
        } else if p.lfc > 0 {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        Row::new(vec![
            p.pid.to_string(),
            p.comm.clone(),
            p.status.clone(),
            p.lfc.to_string(),
            p.anomalies.to_string(),
            p.held_ms.map_or_else(|| "-".into(), |ms| format!("{ms}ms")),
            if p.path.is_empty() {
                p.key.clone()
            } else {
                p.path.clone()
            },
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(
                Row::new([
                    "PID",
                    "COMM",
                    "STATUS",
                    "LFC",
                    "ANOMALIES",
                    "HELD",
                    "PROFILE",
                ])
                .style(bold),
            )
            .block(Block::default().borders(Borders::TOP).title(" processes ")),
        table,
    );

    let items: Vec<ListItem> = view
        .events
        .iter()
        .rev()
        .take(feed.height.saturating_sub(1) as usize)
        .map(|e| {
            let what = e.detail().unwrap_or_default();
            let time = e.time.get(11..19).unwrap_or(&e.time);
            ListItem::new(format!(
                "{time} {:<14} {:>7} {} {what}",
                e.kind.name(),
                e.pid,
                e.path
            ))
        })
        .collect();
    frame.render_widget(
        List::new(items).block(Block::default().borders(Borders::TOP).title(" events ")),
        feed,
    );
    let e = &s.engine;
    frame.render_widget(
        Paragraph::new(format!(
            "rows {}  indexes {}  full: profiles {} rows {} tasks {}  events lost {}   q: quit",
            e.rows_used, e.indexes_used, e.profiles_full, e.rows_full, e.tasks_full, e.events_lost
        ))
        .style(Style::default().add_modifier(Modifier::DIM)),
        footer,
    );
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    // Fail before taking over the terminal when the daemon cannot be reached.
    let mut view = fetch(client)?;
    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        loop {
            terminal.draw(|f| draw(f, &view))?;
            if event::poll(args.interval)? {
                if let Input::Key(key) = event::read()? {
                    let ctrl_c = key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL);
                    if key.code == KeyCode::Char('q') || key.code == KeyCode::Esc || ctrl_c {
                        return Ok(());
                    }
                }
            }
            view = fetch(client)?;
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebph_api::protocol::EngineStats;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn view() -> View {
        let process = |pid: u32, comm: &str, lfc: u32, held_ms: Option<u64>| Process {
            pid,
            tid: pid,
            comm: comm.into(),
            key: "254:0:1".into(),
            path: format!("/usr/bin/{comm}"),
            status: "normal".into(),
            lfc,
            anomalies: u64::from(lfc),
            held_ms,
        };
        View {
            status: Status {
                version: "0.1.0".into(),
                pid: 1,
                uptime_seconds: 61,
                profiles: 12,
                normal_profiles: 3,
                tasks: 40,
                engine: EngineStats {
                    anomalies: 7,
                    rows_used: 99,
                    ..EngineStats::default()
                },
                database: "/var/lib/ebph/ebph.db".into(),
                last_save: None,
                save_interval: "5m".into(),
                response: "delay".into(),
                kernel: ebph_api::protocol::KernelSupport {
                    release: "6.1.0-56-amd64".into(),
                    bpf_lsm: true,
                    bpf_lsm_unavailable: None,
                    execve_suspension: "bpf-lsm".into(),
                    delays: "sigstop".into(),
                },
                held: 1,
                keeper_pid: Some(2),
                warnings: Vec::new(),
            },
            processes: vec![
                process(10, "bash", 0, None),
                process(4242, "anomaly", 5, Some(64)),
            ],
            events: vec![
                event(
                    EventKind::Anomaly {
                        syscall: "write".into(),
                        misses: 3,
                        novel_ngram: false,
                        sequence: vec!["brk".into(), "write".into(), "write".into()],
                    },
                    "2026-11-24T02:05:22.490Z",
                    4,
                ),
                event(
                    EventKind::NovelEndpoint {
                        endpoint: "connect inet public:4444".into(),
                    },
                    "2026-11-24T02:05:23.000Z",
                    5,
                ),
                event(
                    EventKind::NovelExec {
                        executable: "/bin/sh".into(),
                    },
                    "2026-11-24T02:05:24.000Z",
                    1,
                ),
                event(
                    EventKind::ExecveRefused {
                        executable: Some("/bin/sh".into()),
                    },
                    "2026-11-24T02:05:25.000Z",
                    1,
                ),
            ],
        }
    }

    fn event(kind: EventKind, time: &str, lfc: u32) -> Event {
        Event {
            kind,
            time: time.into(),
            pid: 4242,
            tid: 4242,
            key: "254:0:1".into(),
            path: "/usr/bin/anomaly".into(),
            lfc,
            anomalies: 4,
        }
    }

    fn screen(width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, &view())).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn a_frame_shows_the_state_the_processes_and_the_feed() {
        let lines = screen(110, 30);
        let text = lines.join("\n");
        assert!(
            lines[0].contains("ebph 0.1.0") && lines[0].contains("response delay"),
            "{text}"
        );
        assert!(
            lines[1].contains("profiles 12 (3 normal)  tasks 40  anomalies 7"),
            "{text}"
        );
        // The most anomalous process first, with how long it is held.
        let first = lines
            .iter()
            .position(|l| l.contains("anomaly ") && l.contains("4242"))
            .unwrap();
        let second = lines.iter().position(|l| l.contains("bash")).unwrap();
        assert!(first < second, "{text}");
        assert!(lines[first].contains("64ms"), "{text}");
        assert!(
            text.contains("02:05:22 anomaly")
                && text.contains("write (3 misses, LFC 4) after brk write write"),
            "{text}"
        );
        assert!(lines.last().unwrap().contains("q: quit"), "{text}");
    }

    #[test]
    fn the_feed_shows_novel_execs_and_endpoints_newest_first() {
        let lines = screen(130, 30);
        let text = lines.join("\n");
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} in\n{text}"))
        };
        let refused = at("02:05:25 execve_refused");
        let exec = at("02:05:24 novel_exec");
        let endpoint = at("02:05:23 novel_endpoint");
        assert!(refused < exec && exec < endpoint, "{text}");
        assert!(
            lines[refused].contains("its exec of /bin/sh was refused: a novel exec"),
            "{text}"
        );
        assert!(
            lines[exec]
                .contains("ran /bin/sh, which it never ran before (LFC 1 in the new program)"),
            "{text}"
        );
        assert!(
            lines[endpoint]
                .contains("used connect inet public:4444, which it never used before (LFC 5)"),
            "{text}"
        );
    }

    #[test]
    fn a_small_terminal_still_renders() {
        let lines = screen(40, 12);
        assert!(lines[0].starts_with("ebph 0.1.0"));
    }
}
