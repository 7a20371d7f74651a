//! Every message of ipvsadm's (and lbctl's own, where lb lacks a feature) that a command
//! line can get from lbctl's option processing, with a command line that gets it.

use super::test_util::run;

#[test]
fn ipvsadm_error_messages() {
    for (args, want) in [
        // ipvsadm takes its command from the first word; another is an invalid option.
        (&["-A", "-L"][..], "invalid option `-L'"),
        (&["-L", "-l"], "invalid option `-l'"),
        (&["-n", "-LA"], "invalid option `-LA'"),
        (&["-Z", "-t", "-C", "--clear"], "invalid option `--clear'"),
        (&["--set", "1", "2", "3", "-R"], "invalid option `-R'"),
        (
            &["-A"],
            "You need to supply the 'service-address' option for the 'add-service' command",
        ),
        (
            &["-a", "-t", "10.0.0.1:80"],
            "You need to supply the 'real-server' option for the 'add-server' command",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-w", "3"],
            "Illegal 'weight' option with the 'add-service' command",
        ),
        (
            &["-C", "-n"],
            "Illegal 'numeric' option with the 'flush' command",
        ),
        (
            &["-D", "-t", "10.0.0.1:80", "-s", "rr"],
            "Illegal 'scheduler' option with the 'delete-service' command",
        ),
        (
            &["-L", "-c", "-t", "10.0.0.1:80"],
            "The option 'service-address' conflicts with the 'connection' option in the 'list' command",
        ),
        (
            &["-L", "--timeout", "--daemon"],
            "The option 'daemon' conflicts with the 'timeout' option in the 'list' command",
        ),
        (
            &["-L", "-c", "--stats"],
            "options conflicts in the list command",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-u", "10.0.0.1:80"],
            "multiple 'service-address' options specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-g", "-m"],
            "multiple 'forwarding-method' options specified",
        ),
        (
            &["-A", "-t", "10.0.0.300:80"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "10.0.0.1:99999"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "8080"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "[2001:db8::1]"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "nosuchhost:80"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.256:80"],
            "illegal real server address[:port] specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80:90"],
            "illegal real server address[:port] specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:"],
            "illegal real server address[:port] specified",
        ),
        (
            &["-A", "-t", "[2001:db8::1]80"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "[2001:db8::1:80"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-A", "-t", "-L"],
            "illegal virtual server address[:port] specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "-1"],
            "illegal weight specified",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-w",
                "2147483648",
            ],
            "illegal weight specified",
        ),
        // ipvsadm's range, 0 to 65535 (the JSON config takes the kernel's, to 2147483647).
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "65536"],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "-1"],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "5 "],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "0x10"],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", ""],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "ten"],
            "illegal weight specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-x", "x"],
            "illegal u_threshold specified",
        ),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-y", "-5"],
            "illegal l_threshold specified",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-p", "0"],
            "invalid timeout value `0' specified",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-p", "2678401"],
            "invalid timeout value `2678401' specified",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-p", "-M", "255.0.255.0"],
            "persistent mask 255.0.255.0 is not contiguous: lb takes a prefix mask such as 255.255.255.0",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-p", "-M", "bogus"],
            "illegal virtual server persistent mask specified",
        ),
        (
            &["-A", "-t", "[::1]:80", "-p", "-M", "129"],
            "illegal ipv6 netmask specified",
        ),
        (
            &["-A", "-t", "10.0.0.1"],
            "Zero port specified for non-persistent service",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-o"],
            "One-Packet Scheduling is only for UDP virtual services",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-s", "rr", "-b", "sh-port"],
            "incompatible scheduler flag `sh-port'",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "-b", "fast"],
            "invalid scheduler flag `fast'",
        ),
        (
            &["-A", "-t", "10.0.0.1:80", "--pe", "sip"],
            "persistence engine `sip' is not supported by lb (--pe)",
        ),
        (&["-A", "-f", "0"], "invalid fwmark value `0' specified"),
        (&["-A", "-6", "-t", "10.0.0.1:80"], "-6 used before -f\n"),
        (
            &["-a", "-t", "10.0.0.1:80", "-r", "[2001:db8::1]:80"],
            "Different address family is allowed only for tunneling servers",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "--tun-type",
                "ipip",
            ],
            "Tunnel options conflict with forward method",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-i",
                "--tun-type",
                "vxlan",
            ],
            "illegal tunnel type specified",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-i",
                "--tun-port",
                "0",
            ],
            "illegal tunnel port specified",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-i",
                "--tun-port",
                "6080",
            ],
            "Illegal 'tun-port' option with the 'ipip' tunnel type",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-i",
                "--tun-type",
                "gue",
            ],
            "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        ),
        (
            &[
                "-a",
                "-t",
                "10.0.0.1:80",
                "-r",
                "10.1.0.1",
                "-i",
                "--tun-type",
                "gue",
                "--tun-port",
                "6080",
                "--tun-csum",
                "--tun-nocsum",
            ],
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type",
        ),
        (
            &["--set", "1", "2"],
            "--set option requires 3 timeout values",
        ),
        (
            &["--set", "1", "2", "x"],
            "invalid timeout value `x' specified",
        ),
        (
            &["--start-daemon", "primary"],
            "illegal start-daemon parameter specified",
        ),
        (
            &["--start-daemon", "master", "--syncid", "256"],
            "illegal syncid specified",
        ),
        // sic: ipvsadm says start_daemon for --stop-daemon.
        (
            &["--stop-daemon", "primary"],
            "illegal start_daemon specified",
        ),
        (
            &["--start-daemon", "master", "--mcast-group", "10.0.0.1"],
            "invalid IPv4 mcast-group `10.0.0.1'",
        ),
        (
            &["--start-daemon", "master", "--mcast-group", "2001:db8::1"],
            "invalid IPv6 mcast-group `2001:db8::1'",
        ),
        (
            &["--start-daemon", "master", "--mcast-port", "0"],
            "illegal mcast-port specified",
        ),
        (
            &["--start-daemon", "master", "--mcast-ttl", "256"],
            "illegal mcast-ttl specified",
        ),
        (
            &["--start-daemon", "master", "--sync-maxlen", "65508"],
            "illegal sync-maxlen specified",
        ),
        (
            &["-A", "-t", "[::1]:80", "-p", "-M", "0"],
            "illegal ipv6 netmask specified",
        ),
        (
            &["-A", "-t", "[::1]:80", "-p", "-M", "-64"],
            "illegal ipv6 netmask specified",
        ),
        (
            &["-Z", "-r", "10.0.0.1"],
            "Illegal 'real-server' option with the 'zero' command",
        ),
        (
            &["-S", "--stats"],
            "Illegal 'stats' option with the 'save' command",
        ),
        (
            &["-L", "--mh-table-size", "7"],
            "Illegal 'mh-table-size' option with the 'list' command",
        ),
        (
            &["-L", "--line-by-line"],
            "Illegal 'line-by-line' option with the 'list' command",
        ),
    ] {
        assert_eq!(run(args).unwrap_err(), want, "{args:?}");
    }
}
