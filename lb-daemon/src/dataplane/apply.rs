//! A compiled change of the maps ([`Plan`]) and [`Dataplane::apply`], which writes it.

use std::collections::BTreeSet;

use lb_common::{GlobalConfig, MarkAddr, MarkRules, RealLimits, RealServer, Service, VipKey};

use super::{Dataplane, Result};

/// One write of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// One word of the address filter.
    FilterWord {
        index: u32,
        word: u64,
    },
    /// The director-wide settings (the trace flag is kept as it is).
    Config(GlobalConfig),
    /// Removes a service entry (or VIP marker); one already gone is no error.
    RemoveService(VipKey),
    /// Inserts or replaces a service entry (or VIP marker) in one update.
    SetService(VipKey, Service),
    /// A real server's entry by id.
    SetReal(u32, RealServer),
    /// The classifier's rules of a destination prefix (trie prefix length, data), replaced
    /// in one update.
    SetMarks(u32, MarkAddr, Box<MarkRules>),
    /// Removes a destination prefix from the classifier.
    RemoveMarks(u32, MarkAddr),
    ZeroServiceStats(u32),
    ZeroRealStats(u32),
    /// A real server's connection thresholds. Its overload state carries over, except that
    /// raising or removing the upper threshold clears it (IPVS's `__ip_vs_update_dest`).
    SetLimits {
        id: u32,
        upper: u32,
        lower: u32,
    },
    /// Scheduler-table cells from slot `off` (a region no service points at yet).
    WriteTable {
        off: u32,
        cells: Vec<u64>,
    },
    /// Removes the persistence templates of a service id.
    ForgetTemplates {
        service: u32,
    },
    /// Removes the `lblc` / `lblcr` locality entries of a service id.
    ForgetLocality {
        service: u32,
    },
    /// Removes the persistence templates that name these real servers.
    ForgetTemplatesOfReals(BTreeSet<u32>),
    /// Removes every connection of these real servers, with their counts.
    ExpireConnections(BTreeSet<u32>),
    /// Frees a real-server id: its entry, thresholds and counts cleared.
    ClearReal(u32),
}

/// A compiled change of the maps: steps written in order. The compiler (`crate::plan`)
/// orders them so that a packet never sees a half-made change: a new table goes into a free
/// region before its service entry points at it, an address's filter bit is set before its
/// service exists and cleared after it is gone, a removed real server is flagged before any
/// table stops naming it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn push(&mut self, s: Step) {
        self.steps.push(s);
    }
}

/// What [`Dataplane::apply`] found while writing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Connections removed by [`Step::ExpireConnections`].
    pub connections_expired: usize,
    /// Persistence templates removed by [`Step::ForgetTemplatesOfReals`].
    pub templates_forgotten: usize,
}

impl Dataplane {
    /// Writes a plan's steps in order: the one way to the maps for services, real servers,
    /// scheduler tables, the address filter and the director's settings (connection-table
    /// upkeep, counters and tracing have their own narrow methods). Stops at the first step
    /// that fails; the steps before it are written.
    pub fn apply(&mut self, plan: &Plan) -> Result<Applied> {
        let mut done = Applied::default();
        for step in &plan.steps {
            match step {
                Step::FilterWord { index, word } => self.set_addr_filter_word(*index, *word)?,
                Step::Config(c) => self.set_config(c)?,
                Step::RemoveService(key) => {
                    if self.service(key).is_some() {
                        self.remove_service(key)?;
                    }
                }
                Step::SetService(key, svc) => self.set_service(key, svc)?,
                Step::SetReal(id, r) => self.set_real(*id, r)?,
                Step::SetMarks(len, addr, rules) => self.set_mark_rules(*len, addr, rules)?,
                Step::RemoveMarks(len, addr) => self.remove_mark_rules(*len, addr)?,
                Step::ZeroServiceStats(id) => self.zero_service_stats(*id)?,
                Step::ZeroRealStats(id) => self.zero_real_stats(*id)?,
                Step::SetLimits { id, upper, lower } => {
                    let old = self.real_limits(*id)?;
                    let keep = *upper != 0 && *upper <= old.upper;
                    self.set_real_limits(
                        *id,
                        &RealLimits {
                            upper: *upper,
                            lower: *lower,
                            overloaded: if keep { old.overloaded } else { 0 },
                            _pad: 0,
                        },
                    )?;
                }
                Step::WriteTable { off, cells } => self.write_table(*off, cells)?,
                Step::ForgetTemplates { service } => {
                    for (k, _) in self
                        .persist_templates()
                        .into_iter()
                        .filter(|(k, _)| k.service == *service)
                    {
                        self.delete_persist(&k);
                    }
                }
                Step::ForgetLocality { service } => {
                    for (k, _) in self
                        .locality_entries()
                        .into_iter()
                        .filter(|(k, _)| k.service == *service)
                    {
                        self.delete_locality(&k);
                    }
                }
                Step::ForgetTemplatesOfReals(ids) => {
                    for (k, t) in self.persist_templates() {
                        if ids.contains(&t.real) && self.delete_persist(&k) {
                            done.templates_forgotten += 1;
                        }
                    }
                }
                Step::ExpireConnections(ids) => {
                    done.connections_expired += self.expire_reals(ids)?;
                }
                Step::ClearReal(id) => {
                    self.set_real(*id, &RealServer::default())?;
                    self.set_real_limits(*id, &RealLimits::default())?;
                    let c = self.real_conns(*id)?;
                    self.add_real_conns(*id, -c.active, -c.inactive)?;
                }
            }
        }
        Ok(done)
    }
}
