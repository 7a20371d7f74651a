//! Every option's value, read and checked as ipvsadm's `parse_options` does while it reads
//! the options, in its order, before the command-option table: the first faulty value gives
//! the message. What each value means is in the file of its subject.

use lb_model::api::ServiceKey;

use super::{
    address, daemon,
    lookup::Lookup,
    real::{self, RealValues},
    service, timeout,
};
use crate::{cli::Cli, command::UsageError};

/// The values of a command line's options, read; None where the option is not given.
pub(super) struct Values {
    /// `-r`, `-w`, `-x`, `-y` and the tunnel's options.
    pub real: RealValues,
    pub persistent: Option<u32>,
    pub mh_table_size: Option<u32>,
    /// `--set`: tcp, tcpfin, udp.
    pub timeouts: Option<[u32; 3]>,
    /// The service (`-t`/`-u`), and whether its port was given.
    pub svc: Option<(ServiceKey, bool)>,
    /// `-M` as a prefix length.
    pub netmask: Option<u8>,
}

pub(super) fn read(cli: &Cli, lookup: &dyn Lookup) -> Result<Values, UsageError> {
    let weight = real::weight(&cli.real)?;
    let (u_threshold, l_threshold) = real::thresholds(&cli.real)?;
    daemon::check_sync_options(&cli.daemon)?;
    let tun_type = real::tun_type(cli.real.tun_type.as_deref())?;
    let tun_port = real::tun_port(cli.real.tun_port.as_deref())?;
    let persistent = timeout::persistent(&cli.service.persistent)?;
    let mh_table_size = service::mh_table_size(cli.service.mh_table_size.as_deref())?;
    let timeouts = timeout::set(cli.command.set.as_deref())?;
    daemon::check_states(&cli.command)?;
    let svc = service::selected(cli, lookup)?;
    let is_v6 = svc.as_ref().is_some_and(|(k, _)| k.vip.is_ipv6());
    let netmask = address::netmask(cli.service.netmask.as_deref(), is_v6, lookup)?;
    let server = real::server(
        cli.real.server.as_deref(),
        svc.as_ref().map(|(k, _)| k.protocol.as_str()),
        lookup,
    )?;
    Ok(Values {
        real: RealValues {
            server,
            weight,
            u_threshold,
            l_threshold,
            tun_type,
            tun_port,
        },
        persistent,
        mh_table_size,
        timeouts,
        svc,
        netmask,
    })
}

#[cfg(test)]
mod tests {
    use lb_model::api::Edit;

    use crate::{command::Command, ipvsadm::test_util::run};

    #[test]
    fn ipvsadm_quirks_of_option_values() {
        // -s "" is the default scheduler.
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-s", ""]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.scheduler, "wlc");
        // -M without -p: IPVS keeps a mask that means nothing; lb keeps none.
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-M", "255.255.255.0"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, None);
        // -M through inet_aton ("255.255.0xff00" is 255.255.255.0) and atoi ("64abc").
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "10.0.0.1:80", "-p", "-M", "255.255.0xff00"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, Some(24));
        let Command::Edit(Edit::AddService { service }) =
            run(&["-A", "-t", "[2001:db8::1]:80", "-p", "-M", "64abc"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(service.persistent_netmask, Some(64));
        // Weights up to ipvsadm's 65535 (the kernel's 2147483647 only through the JSON
        // config), with strtol's leading blanks and sign.
        let Command::Edit(Edit::AddReal { real, .. }) =
            run(&["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", " +65535"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(real.weight, 65535);
        // -6 may be given twice, --sort any number of times, and --sort does not undo
        // --nosort ("does nothing, for backwards compatibility").
        let Command::List(_, o) = run(&["-L", "--nosort", "--sort", "--sort"]).unwrap() else {
            panic!()
        };
        assert!(o.nosort);
    }
}
