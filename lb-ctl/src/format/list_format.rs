//! ipvsadm's `FMT_*` bits that choose how `-L` prints the table.

/// How a listing is formatted: ipvsadm's `FMT_*` bits that apply to `-L`. When several are
/// given, the first of stats, rate, thresholds, persistent_conn, tun_info wins, as in
/// ipvsadm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListFormat {
    /// `--stats` (`FMT_STATS`): counters instead of scheduler/forwarding/weight columns.
    pub stats: bool,
    /// `--rate` (`FMT_RATE`): rates.
    pub rate: bool,
    /// `--thresholds` (`FMT_THRESHOLDS`).
    pub thresholds: bool,
    /// `--persistent-conn` (`FMT_PERSISTENTCONN`).
    pub persistent_conn: bool,
    /// `--tun-info` (`FMT_TUN_INFO`).
    pub tun_info: bool,
    /// `--exact` (`FMT_EXACT`): counters unabbreviated.
    pub exact: bool,
    /// `--nosort` (`FMT_NOSORT`): keep lbd's order instead of sorting.
    pub nosort: bool,
}
