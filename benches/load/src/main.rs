//! Run with: `cargo run --release -p hellocode-load -- fanout --addr 127.0.0.1:8080 --server-pid $(pgrep hellocode-serv)`
//!
//! Several nodes of one deployment (fan-out only): `--addr A --addr B --addr C` or
//! `--addr A,B,C`; each room's clients are spread round-robin over them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hellocode_load::{
    FanoutConfig, IdleConfig, Nodes, StormConfig, Target, fanout_across, idle, storm,
};

/// Load generator for a HelloCode server on this machine.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address. For `fanout`, give it several times (or a comma list) to drive
    /// several nodes of one deployment, each started with `--broker`.
    #[arg(long, default_value = "127.0.0.1:8080", value_delimiter = ',')]
    addr: Vec<SocketAddr>,
    /// The server's process id, to read its memory from /proc (with several nodes: one of them).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep the users' tokens in this file and reuse them on the next run against the same
    /// server data (skips registering and logging in: argon2 per user).
    #[arg(long)]
    token_cache: Option<std::path::PathBuf>,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Open N idle authenticated connections; report memory per connection.
    Idle {
        /// Connections to open.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Seconds to hold them before measuring.
        #[arg(long, default_value_t = 2)]
        settle: u64,
        /// Drive the bare broadcast baseline (`hellocode-bare`) instead of HelloCode.
        #[arg(long)]
        bare: bool,
    },
    /// Rooms of clients with senders at a fixed rate; report deliveries and latency.
    Fanout {
        /// Rooms.
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Clients per room (senders included).
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// Senders per room.
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages per second per sender.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending (bounded: at most 600).
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Username prefix (change it to rerun against a persistent server).
        #[arg(long, default_value = "load")]
        prefix: String,
        /// Drive the bare broadcast baseline (`hellocode-bare`) instead of HelloCode.
        #[arg(long)]
        bare: bool,
        /// Send with request ids and count the acks (sent only after each commit).
        #[arg(long)]
        acknowledged: bool,
        /// Members per room who never connect; each post notifies their pushers.
        #[arg(long, default_value_t = 0)]
        offline: usize,
        /// The push gateway the offline members register pushers at
        /// (`http://HOST:PORT/_matrix/push/v1/notify`, e.g. `hellocode-push-sink`'s).
        #[arg(long)]
        pusher_url: Option<String>,
    },
    /// Drop every client at once and time their reconnection and resume.
    Storm {
        /// Rooms.
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        /// Receiving users per room.
        #[arg(long, default_value_t = 10)]
        users: usize,
        /// Connections per receiving user.
        #[arg(long, default_value_t = 10)]
        devices: usize,
        /// Messages per room posted while the clients are away.
        #[arg(long, default_value_t = 20)]
        missed: u64,
        /// Milliseconds the clients stay cut off.
        #[arg(long, default_value_t = 2000)]
        outage_ms: u64,
        /// Proxy processes (each holds two descriptors per client).
        #[arg(long, default_value_t = 2)]
        proxies: usize,
        /// Longest delay between a client's reconnection attempts, ms (the SDK's default).
        #[arg(long, default_value_t = 30_000)]
        max_backoff_ms: u64,
        /// Username prefix (change it to rerun against a persistent server).
        #[arg(long, default_value = "storm")]
        prefix: String,
    },
    /// A proxy that cuts every connection on `down` (run by `storm`; reads commands on stdin).
    Proxy,
}

/// The one server address of a mode that drives a single node.
fn one_addr(addrs: &[SocketAddr]) -> anyhow::Result<SocketAddr> {
    match addrs {
        [addr] => Ok(*addr),
        _ => anyhow::bail!("this mode drives one server: give --addr once"),
    }
}

/// A report as a table, or as JSON with `--json`.
fn print_report(
    report: &(impl serde::Serialize + std::fmt::Display),
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.mode {
        Mode::Idle { connections, settle, bare } => {
            let config = IdleConfig {
                connections,
                server_pid: args.server_pid,
                settle: Duration::from_secs(settle),
                target: if bare { Target::Bare } else { Target::HelloCode },
            };
            print_report(&idle(one_addr(&args.addr)?, config).await?, args.json)?;
        }
        Mode::Fanout {
            rooms,
            clients,
            senders,
            rate,
            duration,
            prefix,
            bare,
            acknowledged,
            offline,
            pusher_url,
        } => {
            let config = FanoutConfig {
                rooms,
                clients,
                senders,
                rate,
                duration: Duration::from_secs(duration.min(600)),
                drain: Duration::from_secs(10),
                server_pid: args.server_pid,
                user_prefix: prefix,
                target: if bare { Target::Bare } else { Target::HelloCode },
                acknowledged: acknowledged && !bare,
                token_cache: args.token_cache,
                offline: if bare { 0 } else { offline },
                pusher_url,
            };
            print_report(&fanout_across(&Nodes::new(&args.addr)?, config).await?, args.json)?;
        }
        Mode::Storm {
            rooms,
            users,
            devices,
            missed,
            outage_ms,
            proxies,
            max_backoff_ms,
            prefix,
        } => {
            let config = StormConfig {
                rooms,
                users,
                devices,
                warmup: 3,
                missed,
                outage: Duration::from_millis(outage_ms.min(600_000)),
                proxies,
                user_prefix: prefix,
                server_pid: args.server_pid,
                deadline: Duration::from_secs(300),
                max_backoff: Duration::from_millis(max_backoff_ms),
                proxy_program: std::env::current_exe()?,
                token_cache: args.token_cache,
            };
            print_report(&storm(one_addr(&args.addr)?, config).await?, args.json)?;
        }
        Mode::Proxy => hellocode_load::proxy::run(one_addr(&args.addr)?).await?,
    }
    Ok(())
}
