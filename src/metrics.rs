//! The process's Prometheus metrics: one registry, filled by every layer
//! and rendered by `/metrics` (`admin::metrics`).
//!
//! Any layer may call in here, from the store writer up to the protocols,
//! so this module imports nothing of the crate (`tests/layering.rs`), and
//! what a hot path calls is an atomic add on a handle made at start: every
//! label combination is created once, up front, so no call takes the
//! registry's locks. Values that cost a read of the store or the file
//! system (store size, free pages, index size, resident memory) are read
//! when a scrape asks (`Scrape`), not kept up to date.
//!
//! prometheus-client writes OpenMetrics text; `render` turns it into the
//! Prometheus text format (0.0.4) unless the scraper asks for OpenMetrics.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Lmtp,
}

/// How an IMAP command was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    No,
    Bad,
}

const OUTCOMES: [&str; 3] = ["ok", "no", "bad"];

/// What became of a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Ok,
    Failed,
    Throttled,
    /// The store could not be read: nothing was decided.
    Unavailable,
}

const LOGINS: [&str; 4] = ["ok", "failed", "throttled", "unavailable"];

/// What became of one LMTP recipient: refused at RCPT, or its copy after
/// DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Stored,
    OverQuota,
    UnknownUser,
    /// The address's domain is not one of `[lmtp] domains`.
    NotLocal,
    /// Refused for now (4xx): the store could not be read or written.
    Failed,
}

const DELIVERIES: [&str; 5] = [
    "stored",
    "over_quota",
    "unknown_user",
    "not_local",
    "failed",
];

/// The IMAP command names the session logs (`CommandBody::name`, plus its
/// names for input that never became a command); anything else counts as
/// `other`, so a label's values stay a fixed, small set.
const COMMANDS: [&str; 43] = [
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "AUTHENTICATE",
    "LOGIN",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "STATUS",
    "APPEND",
    "CHECK",
    "CLOSE",
    "EXPUNGE",
    "SEARCH",
    "UID SEARCH",
    "FETCH",
    "UID FETCH",
    "STORE",
    "UID STORE",
    "COPY",
    "UID COPY",
    "UID EXPUNGE",
    "IDLE",
    "UNSELECT",
    "NAMESPACE",
    "ID",
    "GETQUOTA",
    "GETQUOTAROOT",
    "SETQUOTA",
    "ENABLE",
    "MOVE",
    "UID MOVE",
    "COMPRESS",
    "(invalid)",
    "(refused)",
    "other",
];

/// Upper bounds of the latency buckets, in microseconds: 100 µs to 60 s.
const LATENCY_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// Upper bounds of the writer's batch-size buckets (operations; the writer
/// takes at most 512 at once).
const BATCH_OPS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// A histogram of whole-number observations (microseconds, operations)
/// kept in atomics: `observe` is two atomic adds, never a lock.
#[derive(Debug, Clone)]
pub struct Histogram {
    inner: Arc<HistogramInner>,
}

#[derive(Debug)]
struct HistogramInner {
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    /// Each bound and the sum are divided by this when written (1e6 turns
    /// microseconds into the seconds Prometheus expects).
    divisor: f64,
}

impl Histogram {
    fn new(bounds: &'static [u64], divisor: f64) -> Histogram {
        Histogram {
            inner: Arc::new(HistogramInner {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0),
                divisor,
            }),
        }
    }

    fn observe(&self, v: u64) {
        let i = self.inner.bounds.partition_point(|&b| b < v);
        self.inner.counts[i].fetch_add(1, Ordering::Relaxed);
        self.inner.sum.fetch_add(v, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let h = &self.inner;
        // Per-bucket counts: the encoder writes them cumulative.
        let mut count = 0u64;
        let mut buckets = Vec::with_capacity(h.counts.len());
        for (i, n) in h.counts.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            count += n;
            let bound = h
                .bounds
                .get(i)
                .map_or(f64::INFINITY, |&b| b as f64 / h.divisor);
            buckets.push((bound, n));
        }
        // The count is the buckets' total, so `_count` and the +Inf bucket
        // agree even while observations come in.
        let sum = h.sum.load(Ordering::Relaxed) as f64 / h.divisor;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// IMAP commands by name and outcome, and their latency by name: written
/// only for commands that have been seen, so a scrape is not a page of
/// zeros for commands nobody sends.
#[derive(Debug)]
struct CommandTable {
    counts: Vec<[Counter; 3]>,
    latency: Vec<Histogram>,
}

impl Collector for CommandTable {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "imap_commands",
                "IMAP commands answered, by command and outcome (ok, no, bad).",
                None,
                MetricType::Counter,
            )?;
            for (name, counts) in COMMANDS.iter().zip(&self.counts) {
                for (outcome, counter) in OUTCOMES.iter().zip(counts) {
                    if counter.get() > 0 {
                        let labels = [("command", *name), ("outcome", *outcome)];
                        counter.encode(family.encode_family(&labels)?)?;
                    }
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "imap_command_duration",
            "Time from an IMAP command to its tagged reply, by command.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (name, histogram) in COMMANDS.iter().zip(&self.latency) {
            if histogram.count() > 0 {
                let labels = [("command", *name)];
                histogram.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// Every metric, and the registry that writes them.
pub struct Metrics {
    registry: Registry,
    /// Index `protocol * 2 + tls`.
    conns_open: [Gauge; 4],
    conns_total: [Counter; 4],
    commands: Arc<CommandTable>,
    logins: [Counter; 4],
    appends: Counter,
    append_bytes: Counter,
    deliveries: [Counter; 5],
    delivered_bytes: Counter,
    /// By protocol.
    quota_refusals: [Counter; 2],
    batch_ops: Histogram,
    commit_latency: Histogram,
    store_size: Gauge,
    store_free_pages: Gauge,
    index_lag: Gauge,
    index_size: Gauge,
    resident_memory: Gauge,
}

type Labels = [(&'static str, &'static str); 2];

/// What a scrape reads from the store and the file system just before it
/// is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scrape {
    pub store_file_bytes: u64,
    pub store_free_pages: u64,
    /// `None` when the search index is off.
    pub index_bytes: Option<u64>,
}

fn family_counters<const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    labels: [Labels; N],
) -> [Counter; N] {
    let family = Family::<Labels, Counter>::default();
    match unit {
        Some(u) => registry.register_with_unit(name, help, u, family.clone()),
        None => registry.register(name, help, family.clone()),
    }
    labels.map(|l| family.get_or_create(&l).clone())
}

impl Metrics {
    fn new() -> Metrics {
        let mut root = Registry::default();
        let resident_memory = Gauge::default();
        root.register_with_unit(
            "process_resident_memory",
            "Resident memory of the roost process",
            Unit::Bytes,
            resident_memory.clone(),
        );
        let r = root.sub_registry_with_prefix("roost");

        let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        r.register(
            "build_info",
            "The running version of roost (always 1)",
            build.clone(),
        );
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);

        let conn_labels = [
            [("protocol", "imap"), ("tls", "no")],
            [("protocol", "imap"), ("tls", "yes")],
            [("protocol", "lmtp"), ("tls", "no")],
            [("protocol", "lmtp"), ("tls", "yes")],
        ];
        let open = Family::<Labels, Gauge>::default();
        r.register(
            "connections_open",
            "Client connections open now, by protocol and TLS (STARTTLS moves one to tls=yes)",
            open.clone(),
        );
        let conns_open = conn_labels.map(|l| open.get_or_create(&l).clone());
        let conns_total = family_counters(
            r,
            "connections",
            "Client connections accepted, by protocol and TLS at accept (implicit TLS)",
            None,
            conn_labels,
        );

        let commands = Arc::new(CommandTable {
            counts: COMMANDS.iter().map(|_| Default::default()).collect(),
            latency: COMMANDS
                .iter()
                .map(|_| Histogram::new(LATENCY_US, 1e6))
                .collect(),
        });
        r.register_collector(Box::new(SharedCollector(commands.clone())));

        let logins = single_counters(
            r,
            "logins",
            "IMAP login attempts, by outcome (ok, failed, throttled, unavailable)",
            None,
            "outcome",
            LOGINS,
        );
        let appends = Counter::default();
        r.register(
            "imap_appends",
            "Messages stored by IMAP APPEND",
            appends.clone(),
        );
        let append_bytes = Counter::default();
        r.register_with_unit(
            "imap_appended",
            "Bytes of messages stored by IMAP APPEND",
            Unit::Bytes,
            append_bytes.clone(),
        );
        let deliveries = single_counters(
            r,
            "lmtp_deliveries",
            "LMTP recipients answered, at RCPT or after DATA, by outcome \
             (stored, over_quota, unknown_user, not_local, failed)",
            None,
            "outcome",
            DELIVERIES,
        );
        let delivered_bytes = Counter::default();
        r.register_with_unit(
            "lmtp_delivered",
            "Bytes of messages stored for LMTP recipients (one message per recipient)",
            Unit::Bytes,
            delivered_bytes.clone(),
        );
        let quota_refusals = single_counters(
            r,
            "quota_refusals",
            "Changes refused because they would pass a quota, by protocol",
            None,
            "protocol",
            ["imap", "lmtp"],
        );

        let batch_ops = Histogram::new(BATCH_OPS, 1.0);
        r.register(
            "store_writer_batch_ops",
            "Operations per store write transaction (group commit)",
            batch_ops.clone(),
        );
        let commit_latency = Histogram::new(LATENCY_US, 1e6);
        r.register_with_unit(
            "store_commit_duration",
            "Time to commit one store write transaction, fsync included",
            Unit::Seconds,
            commit_latency.clone(),
        );
        let store_size = Gauge::default();
        r.register_with_unit(
            "store_file_size",
            "Size of the store's LMDB data file",
            Unit::Bytes,
            store_size.clone(),
        );
        let store_free_pages = Gauge::default();
        r.register(
            "store_free_pages",
            "Pages of the store file no table uses (reused before the file grows)",
            store_free_pages.clone(),
        );
        let index_lag = Gauge::default();
        r.register(
            "search_index_lag_messages",
            "Messages stored but not yet searchable in the index (SEARCH scans them)",
            index_lag.clone(),
        );
        let index_size = Gauge::default();
        r.register_with_unit(
            "search_index_size",
            "Size of the search index's files",
            Unit::Bytes,
            index_size.clone(),
        );

        Metrics {
            registry: root,
            conns_open,
            conns_total,
            commands,
            logins,
            appends,
            append_bytes,
            deliveries,
            delivered_bytes,
            quota_refusals,
            batch_ops,
            commit_latency,
            store_size,
            store_free_pages,
            index_lag,
            index_size,
            resident_memory,
        }
    }
}

/// A family of counters with one label, created for every value given.
fn single_counters<const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    key: &'static str,
    values: [&'static str; N],
) -> [Counter; N] {
    let family = Family::<[(&'static str, &'static str); 1], Counter>::default();
    match unit {
        Some(u) => registry.register_with_unit(name, help, u, family.clone()),
        None => registry.register(name, help, family.clone()),
    }
    values.map(|v| family.get_or_create(&[(key, v)]).clone())
}

/// The registry owns its collectors; the table is shared with `Metrics`.
#[derive(Debug)]
struct SharedCollector(Arc<CommandTable>);

impl Collector for SharedCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn m() -> &'static Metrics {
    &METRICS
}

/// An open connection, counted until it is dropped.
#[derive(Debug)]
pub struct OpenConn {
    slot: usize,
}

/// Counts a connection accepted; the gauge goes down when the returned
/// value is dropped.
pub fn conn_opened(protocol: Protocol, tls: bool) -> OpenConn {
    let slot = conn_slot(protocol, tls);
    m().conns_total[slot].inc();
    m().conns_open[slot].inc();
    OpenConn { slot }
}

fn conn_slot(protocol: Protocol, tls: bool) -> usize {
    let p = match protocol {
        Protocol::Imap => 0,
        Protocol::Lmtp => 1,
    };
    p * 2 + usize::from(tls)
}

impl OpenConn {
    /// STARTTLS succeeded: the connection now counts under tls=yes.
    pub fn tls_started(&mut self) {
        // Even slots are tls=no, each followed by its tls=yes.
        if self.slot.is_multiple_of(2) {
            m().conns_open[self.slot].dec();
            self.slot += 1;
            m().conns_open[self.slot].inc();
        }
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        m().conns_open[self.slot].dec();
    }
}

/// One IMAP command answered with a tagged reply.
pub fn imap_command(command: &str, outcome: Outcome, elapsed: Duration) {
    let i = COMMANDS
        .iter()
        .position(|&c| c == command)
        .unwrap_or(COMMANDS.len() - 1);
    let o = match outcome {
        Outcome::Ok => 0,
        Outcome::No => 1,
        Outcome::Bad => 2,
    };
    let t = &m().commands;
    t.counts[i][o].inc();
    t.latency[i].observe(micros(elapsed));
}

pub fn login(outcome: Login) {
    let i = match outcome {
        Login::Ok => 0,
        Login::Failed => 1,
        Login::Throttled => 2,
        Login::Unavailable => 3,
    };
    m().logins[i].inc();
}

/// A message stored by APPEND (acknowledged: it is on disk).
pub fn appended(bytes: u64) {
    m().appends.inc();
    m().append_bytes.inc_by(bytes);
}

/// One LMTP recipient answered; `bytes` is the copy stored for it. An
/// over-quota answer is a quota refusal too.
pub fn lmtp_delivery(outcome: Delivery, bytes: u64) {
    let i = match outcome {
        Delivery::Stored => 0,
        Delivery::OverQuota => 1,
        Delivery::UnknownUser => 2,
        Delivery::NotLocal => 3,
        Delivery::Failed => 4,
    };
    m().deliveries[i].inc();
    if outcome == Delivery::OverQuota {
        quota_refused(Protocol::Lmtp);
    }
    if outcome == Delivery::Stored {
        m().delivered_bytes.inc_by(bytes);
    }
}

/// A client was told no because of a quota.
pub fn quota_refused(protocol: Protocol) {
    let i = match protocol {
        Protocol::Imap => 0,
        Protocol::Lmtp => 1,
    };
    m().quota_refusals[i].inc();
}

/// One store write transaction of `ops` operations committed in `commit`.
pub fn store_batch(ops: usize, commit: Duration) {
    m().batch_ops.observe(ops as u64);
    m().commit_latency.observe(micros(commit));
}

/// Messages handed to the search index (`n > 0`) or made searchable by
/// one of its commits (`n < 0`).
pub fn index_lag(n: i64) {
    m().index_lag.inc_by(n);
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Resident memory from `/proc/self/statm` (pages), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

#[allow(unsafe_code)]
fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// The content type of `render`'s output.
pub fn content_type(openmetrics: bool) -> &'static str {
    if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    }
}

/// Every metric as text: OpenMetrics, or the Prometheus text format.
pub fn render(scrape: &Scrape, openmetrics: bool) -> String {
    let metrics = m();
    metrics.store_size.set(gauge_value(scrape.store_file_bytes));
    metrics
        .store_free_pages
        .set(gauge_value(scrape.store_free_pages));
    metrics
        .index_size
        .set(gauge_value(scrape.index_bytes.unwrap_or(0)));
    if let Some(rss) = resident_bytes() {
        metrics.resident_memory.set(gauge_value(rss));
    }
    let mut text = String::new();
    // Writing into a String cannot fail; a metric that would leaves the
    // text cut short, which a scraper reports.
    let _ = prometheus_client::encoding::text::encode(&mut text, &metrics.registry);
    if openmetrics {
        text
    } else {
        to_prometheus_text(&text)
    }
}

/// OpenMetrics text → Prometheus text format 0.0.4: a counter's family is
/// named with its `_total` suffix there (as its samples are), and `# UNIT`
/// and `# EOF` do not exist.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                let _ = writeln!(out, "{prefix}{name}_total {tail}");
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_are_renamed_for_the_prometheus_format() {
        let om = "# HELP roost_logins IMAP logins.\n# TYPE roost_logins counter\n\
                  roost_logins_total{outcome=\"ok\"} 2\n\
                  # HELP roost_store_file_size_bytes Size.\n# TYPE roost_store_file_size_bytes gauge\n\
                  # UNIT roost_store_file_size_bytes bytes\nroost_store_file_size_bytes 8192\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP roost_logins_total IMAP logins.\n# TYPE roost_logins_total counter\n\
             roost_logins_total{outcome=\"ok\"} 2\n\
             # HELP roost_store_file_size_bytes Size.\n# TYPE roost_store_file_size_bytes gauge\n\
             roost_store_file_size_bytes 8192\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_in_seconds() {
        let h = Histogram::new(&[100, 1_000], 1e6);
        h.observe(50);
        h.observe(100);
        h.observe(500);
        h.observe(5_000);
        let mut r = Registry::default();
        r.register_with_unit("lat", "Latency", Unit::Seconds, h.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).expect("encodes");
        assert!(
            text.contains("lat_seconds_bucket{le=\"0.0001\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("lat_seconds_bucket{le=\"0.001\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("lat_seconds_bucket{le=\"+Inf\"} 4\n"),
            "{text}"
        );
        assert!(text.contains("lat_seconds_count 4\n"), "{text}");
        assert!(text.contains("lat_seconds_sum 0.00565\n"), "{text}");
    }

    #[test]
    fn commands_are_written_once_seen_and_unknown_names_count_as_other() {
        imap_command("NOOP", Outcome::Ok, Duration::from_micros(300));
        imap_command("XYZZY", Outcome::Bad, Duration::from_micros(10));
        let text = render(&Scrape::default(), false);
        assert!(
            text.contains("roost_imap_commands_total{command=\"NOOP\",outcome=\"ok\"}"),
            "{text}"
        );
        assert!(
            text.contains("roost_imap_commands_total{command=\"other\",outcome=\"bad\"}"),
            "{text}"
        );
        assert!(!text.contains("command=\"XYZZY\""), "{text}");
        assert!(text.contains("# TYPE roost_imap_commands_total counter\n"));
        assert!(!text.contains("# EOF"));
        assert!(render(&Scrape::default(), true).ends_with("# EOF\n"));
    }

    #[test]
    fn commands_never_seen_are_left_out() {
        // A table of its own: the process-wide one counts other tests' too.
        let table = Arc::new(CommandTable {
            counts: COMMANDS.iter().map(|_| Default::default()).collect(),
            latency: COMMANDS
                .iter()
                .map(|_| Histogram::new(LATENCY_US, 1e6))
                .collect(),
        });
        table.counts[1][0].inc();
        table.latency[1].observe(20);
        let mut r = Registry::default();
        r.register_collector(Box::new(SharedCollector(table)));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).expect("encodes");
        assert!(
            text.contains("imap_commands_total{command=\"NOOP\",outcome=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("imap_command_duration_seconds_count{command=\"NOOP\"} 1\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("command=").count(),
            1 + 2 + LATENCY_US.len() + 1,
            "{text}"
        );
    }

    #[test]
    fn a_connection_moves_to_tls_on_starttls_and_leaves_on_drop() {
        let slot_no = conn_slot(Protocol::Lmtp, false);
        let slot_yes = conn_slot(Protocol::Lmtp, true);
        let before = (
            m().conns_open[slot_no].get(),
            m().conns_open[slot_yes].get(),
        );
        let mut c = conn_opened(Protocol::Lmtp, false);
        assert_eq!(m().conns_open[slot_no].get(), before.0 + 1);
        c.tls_started();
        assert_eq!(m().conns_open[slot_no].get(), before.0);
        assert_eq!(m().conns_open[slot_yes].get(), before.1 + 1);
        drop(c);
        assert_eq!(m().conns_open[slot_yes].get(), before.1);
    }
}
