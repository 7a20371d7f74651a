# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lbctl_global_optspecs
    string join \n json socket= v/version A/add-service E/edit-service D/delete-service C/clear R/restore line-by-line S/save a/add-server e/edit-server d/delete-server L/list Z/zero set= start-daemon= stop-daemon= t/tcp-service= u/udp-service= sctp-service= f/fwmark-service= s/scheduler= p/persistent= M/netmask= pe= b/sched-flags= o/ops 6/ipv6 mh-table-size= r/real-server= g/gatewaying i/ipip m/masquerading tun-type= tun-port= tun-nocsum tun-csum tun-remcsum w/weight= x/u-threshold= y/l-threshold= n/numeric c/connection timeout daemon stats rate thresholds persistent-conn tun-info X/exact nosort sort mcast-interface= syncid= mcast-group= mcast-port= mcast-ttl= sync-maxlen= h/help
end

function __fish_lbctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lbctl_global_optspecs) -- $cmd 2>/dev/null
    or return 0
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lbctl_using_subcommand
    set -l cmd (__fish_lbctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lbctl -n "__fish_lbctl_needs_command" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_needs_command" -l set -d 'Set connection timeout values (seconds; 0 keeps a value)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l start-daemon -d 'Start connection sync daemon (master: send this director\'s connections; backup: apply the others\')' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l stop-daemon -d 'Stop connection sync daemon' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s t -l tcp-service -d 'TCP service: host[:port]' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s u -l udp-service -d 'UDP service: host[:port]' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l sctp-service -d 'SCTP service: host[:port]' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s f -l fwmark-service -d 'Firewall-mark service (not supported by lb)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s s -l scheduler -d 'Scheduler (default wlc)' -r -f -a "rr\t'Round Robin'
wrr\t'Weighted Round Robin'
lc\t'Least-Connection'
wlc\t'Weighted Least-Connection (the default)'
lblc\t'Locality-Based Least-Connection'
lblcr\t'Locality-Based Least-Connection with Replication'
dh\t'Destination Hashing'
sh\t'Source Hashing'
sed\t'Shortest Expected Delay'
nq\t'Never Queue'
mh\t'Maglev Hashing'
fo\t'Weighted Failover'
ovf\t'Weighted Overflow'
twos\t'Weighted Random Twos Choice'"
complete -c lbctl -n "__fish_lbctl_needs_command" -s p -l persistent -d 'Persistent service, timeout in seconds (default 300)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s M -l netmask -d 'Persistence granularity: a netmask (IPv4) or prefix length (IPv6)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l pe -d 'Persistence engine (not supported by lb)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s b -l sched-flags -d 'Scheduler flags, comma-separated' -r -f -a "sh-fallback\t'sh: another real server when the chosen one is unavailable'
sh-port\t'sh: hash the source port too'
mh-fallback\t'mh: another real server when the chosen one is unavailable'
mh-port\t'mh: hash the source port too'
flag-1\t'the first scheduler flag, by number'
flag-2\t'the second scheduler flag, by number'
flag-3\t'the third scheduler flag, by number'"
complete -c lbctl -n "__fish_lbctl_needs_command" -l mh-table-size -d 'Maglev table size, a prime (lbctl extension; mh only)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s r -l real-server -d 'Real server: host[:port]' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-type -d 'Tunnel type (default ipip)' -r -f -a "ipip\t'IPIP, or IPv6 in IPv6 (the default)'
gue\t'Generic UDP Encapsulation to --tun-port'
gre\t'Generic Routing Encapsulation'"
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-port -d 'Tunnel destination port (gue)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s w -l weight -d 'Capacity of the real server (0 to 2147483647, default 1)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s x -l u-threshold -d 'Upper threshold of connections' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -s y -l l-threshold -d 'Lower threshold of connections' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l mcast-interface -d 'Multicast interface for connection sync' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l syncid -d 'Syncid for connection sync (default 255)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l mcast-group -d 'Multicast group for connection sync (IPv4 or IPv6)' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l mcast-port -d 'Multicast port for connection sync' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l mcast-ttl -d 'Multicast TTL for connection sync' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l sync-maxlen -d 'Maximum sync message length' -r
complete -c lbctl -n "__fish_lbctl_needs_command" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_needs_command" -s v -l version -d 'Print version (ipvsadm\'s -v)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s A -l add-service -d 'Add a virtual service with options'
complete -c lbctl -n "__fish_lbctl_needs_command" -s E -l edit-service -d 'Edit a virtual service with options'
complete -c lbctl -n "__fish_lbctl_needs_command" -s D -l delete-service -d 'Delete a virtual service'
complete -c lbctl -n "__fish_lbctl_needs_command" -s C -l clear -d 'Clear the whole table'
complete -c lbctl -n "__fish_lbctl_needs_command" -s R -l restore -d 'Restore rules from stdin (one batch: all or nothing)'
complete -c lbctl -n "__fish_lbctl_needs_command" -l line-by-line -d 'With -R: apply each line on its own as ipvsadm does (lines before a refused one stay applied, the next ones are still tried; lbctl extension)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s S -l save -d 'Save rules to stdout'
complete -c lbctl -n "__fish_lbctl_needs_command" -s a -l add-server -d 'Add a real server with options'
complete -c lbctl -n "__fish_lbctl_needs_command" -s e -l edit-server -d 'Edit a real server with options'
complete -c lbctl -n "__fish_lbctl_needs_command" -s d -l delete-server -d 'Delete a real server'
complete -c lbctl -n "__fish_lbctl_needs_command" -s L -s l -l list -d 'List the table (the default command)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s Z -l zero -d 'Zero counters in a service or all services'
complete -c lbctl -n "__fish_lbctl_needs_command" -s o -l ops -d 'One-packet scheduling (UDP)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s 6 -l ipv6 -d 'The firewall-mark service is IPv6'
complete -c lbctl -n "__fish_lbctl_needs_command" -s g -l gatewaying -d 'Gatewaying (direct routing) (default)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s i -l ipip -d 'IPIP encapsulation (tunneling)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s m -l masquerading -d 'Masquerading (NAT)'
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-nocsum -d 'Tunnel encapsulation without checksum'
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-csum -d 'Tunnel encapsulation with checksum'
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-remcsum -d 'Tunnel encapsulation with remote checksum'
complete -c lbctl -n "__fish_lbctl_needs_command" -s n -l numeric -d 'Numeric output of addresses and ports'
complete -c lbctl -n "__fish_lbctl_needs_command" -s c -l connection -d 'Output of current connections (and persistence templates)'
complete -c lbctl -n "__fish_lbctl_needs_command" -l timeout -d 'Output of timeout (tcp tcpfin udp)'
complete -c lbctl -n "__fish_lbctl_needs_command" -l daemon -d 'Output of daemon information'
complete -c lbctl -n "__fish_lbctl_needs_command" -l stats -d 'Output of statistics information'
complete -c lbctl -n "__fish_lbctl_needs_command" -l rate -d 'Output of rate information'
complete -c lbctl -n "__fish_lbctl_needs_command" -l thresholds -d 'Output of thresholds information'
complete -c lbctl -n "__fish_lbctl_needs_command" -l persistent-conn -d 'Output of persistent connection info'
complete -c lbctl -n "__fish_lbctl_needs_command" -l tun-info -d 'Output of tunnel information'
complete -c lbctl -n "__fish_lbctl_needs_command" -s X -l exact -d 'Expand numbers (display exact values)'
complete -c lbctl -n "__fish_lbctl_needs_command" -l nosort -d 'Disable sorting output of service/server entries'
complete -c lbctl -n "__fish_lbctl_needs_command" -l sort -d 'Does nothing, for backwards compatibility (sorting is the default; it does not undo --nosort, as in ipvsadm)'
complete -c lbctl -n "__fish_lbctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "status" -d 'Show lbd\'s state: interface, XDP mode, table sizes, reason counters'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "apply" -d 'Make a JSON config the whole desired state (prints what changed)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "get" -d 'Print lbd\'s desired state'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "man" -d 'Print lbctl\'s man page (roff), or a verb\'s'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "drain" -d 'Drain a real server: no new connections now, its remaining ones removed at the deadline'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "undrain" -d 'End a drain: the real server takes new connections again'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "health" -d 'Show every real server\'s health check, state and drain'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "trace" -d 'Show live what the data plane does with matching packets (verdict, reason, real server)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "top" -d 'Show services and real servers live, refreshed like top (connections, rates, health, drains)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "proc" -d 'Print what the kernel\'s /proc/net/FILE of IPVS would hold (ip_vs, ip_vs_conn, ip_vs_stats, ip_vs_stats_percpu)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "sysctl" -d 'List the IPVS sysctls lb honours with their values, or set one (-w NAME=VALUE)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "director" -d 'Drain the director (withdraw its VIPs from BIRD), undrain it, or show its announcement'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "bird-config" -d 'Print the BIRD 2 config a director needs to announce lbd\'s VIPs (and the router\'s side)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "mark" -d 'Firewall marks: lb\'s classifier of new flows for firewall-mark services (-f MARK)'
complete -c lbctl -n "__fish_lbctl_needs_command" -f -a "generate-docs" -d 'Write the man pages, completions and JSON Schemas into DIR (what docs/ ships)'
complete -c lbctl -n "__fish_lbctl_using_subcommand status" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand status" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -s f -l file -d 'The config file ("-" reads standard input)' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -l dry-run -d 'Only validate and show what would change'
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand get" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand get" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -s t -l tcp-service -d 'The TCP service' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -s u -l udp-service -d 'The UDP service' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -s r -l real-server -d 'The real server (its port defaults to the service\'s)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -l deadline -d 'Seconds after which the connections it still has are removed (0: at once)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -s t -l tcp-service -d 'The TCP service' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -s u -l udp-service -d 'The UDP service' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -s r -l real-server -d 'The real server (its port defaults to the service\'s)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand health" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand health" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand health" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l vip -d 'Only packets to this VIP (and nat replies from it)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l client -d 'Only packets from (or to) this client address' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l real -d 'Only packets forwarded to this real server' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -s c -l count -d 'Stop after this many events (default: until interrupted)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l max-per-sec -d 'At most this many events per second and CPU (0: no limit)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -s n -l iterations -d 'Stop after this many frames (default: until q or Ctrl-C)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -s d -l delay -d 'Seconds between frames, 0.1 to 3600 (lbd\'s rates are 2-second samples)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -s b -l batch -d 'Batch mode: print frame after frame, without terminal control (also when standard output is not a terminal)'
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -l hz -d 'The kernel\'s CONFIG_HZ, for ip_vs\'s persistence timeouts, which the kernel prints in jiffies (default: CONFIG_HZ from /boot/config-RELEASE, else 250)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand sysctl" -s w -l write -d 'Set NAME=VALUE (lbd applies its config with that field changed)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand sysctl" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand sysctl" -s d -l describe -d 'Print what each sysctl does in lb instead of its value'
complete -c lbctl -n "__fish_lbctl_using_subcommand sysctl" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand sysctl" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l router -d 'A router to announce the VIPs to (its address: IPv4 sessions carry the IPv4 VIPs, IPv6 sessions the IPv6 ones); repeat for several' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l router-as -d 'The routers\' AS number' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l local-as -d 'This director\'s AS number (the router\'s for iBGP)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l include-file -d 'The include file lbd writes (the config\'s announce.include_file)' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l hold-time -d 'BGP hold time in seconds: how soon a router drops the routes of a director whose BIRD stopped answering' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -f -a "add" -d 'Add a match to a mark (the mark is made, last in the list, if it has none): new flows it matches get the mark (the first match in the list wins, as iptables\'s first rule)'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -f -a "del" -d 'Remove a mark\'s match (its number in `lbctl mark list`, from 1), or the whole mark'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -f -a "list" -d 'List the marks and their matches, in the order the classifier tries them'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and not __fish_seen_subcommand_from add del list import" -f -a "import" -d 'Import iptables MARK rules (`iptables-save` output or `iptables -t mangle -A PREROUTING ... -j MARK --set-mark N` lines): all of them or, if a line cannot be honoured, none'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -s d -l destination -d 'Destination prefix (10.0.0.1/32, 2001:db8::/64; an address alone is one address)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -s p -l protocol -d 'tcp, udp or sctp (default: any of them)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -l dport -d 'Destination ports: 80, 8000-8100 (or 8000:8100), or a list (80,443); needs -p' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -s s -l source -d 'Source prefix (default: any source)' -r
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from del" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from del" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from list" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from list" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from import" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from import" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand mark; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c lbctl -n "__fish_lbctl_using_subcommand generate-docs" -l socket -d 'Path of lbd\'s control socket' -r -F
complete -c lbctl -n "__fish_lbctl_using_subcommand generate-docs" -l json -d 'Print lbd\'s answer as JSON instead of a table'
complete -c lbctl -n "__fish_lbctl_using_subcommand generate-docs" -s h -l help -d 'Print help'

# Positional arguments of the verbs (values; no file names where none is taken).
complete -c lbctl -n "__fish_lbctl_using_subcommand status" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand apply" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand get" -f -a "config" -d 'The desired state as a JSON config (`lbctl apply -f` takes it back unchanged)'
complete -c lbctl -n "__fish_lbctl_using_subcommand get" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -f -a "bash"
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -f -a "zsh"
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -f -a "fish"
complete -c lbctl -n "__fish_lbctl_using_subcommand completions" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "status"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "apply"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "get"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "completions"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "man"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "drain"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "undrain"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "health"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "trace"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "top"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "proc"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "sysctl"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "director"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "bird-config"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f -a "mark"
complete -c lbctl -n "__fish_lbctl_using_subcommand man" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand drain" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand undrain" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand health" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand trace" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand top" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -f -a "ip_vs"
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -f -a "ip_vs_conn"
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -f -a "ip_vs_stats"
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -f -a "ip_vs_stats_percpu"
complete -c lbctl -n "__fish_lbctl_using_subcommand proc" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -f -a "drain" -d 'Withdraw every VIP from BIRD: the routers send this director no new traffic (connections it carries keep being forwarded)'
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -f -a "undrain" -d 'Announce again the VIPs this director can serve'
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -f -a "status" -d 'Show what is announced, what should be, and BIRD\'s last error'
complete -c lbctl -n "__fish_lbctl_using_subcommand director" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand bird-config" -f
complete -c lbctl -n "__fish_lbctl_using_subcommand mark" -f
