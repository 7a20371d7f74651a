# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lbd_global_optspecs
    string join \n c/config= socket= state-file= no-state netns= check-config= log-format= log-level= h/help V/version
end

function __fish_lbd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lbd_global_optspecs) -- $cmd 2>/dev/null
    or return 0
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lbd_using_subcommand
    set -l cmd (__fish_lbd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lbd -n "__fish_lbd_needs_command" -s c -l config -d 'The JSON config (see README.md)' -r -F
complete -c lbd -n "__fish_lbd_needs_command" -l socket -d 'The control socket lbctl talks to (mode 0600)' -r -F
complete -c lbd -n "__fish_lbd_needs_command" -l state-file -d 'Where lbd records the state applied at run time (lbctl, apply, SIGHUP); when the file exists at start, its services, timeouts and director addresses replace the config file\'s' -r -F
complete -c lbd -n "__fish_lbd_needs_command" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_needs_command" -l check-config -d 'Validate a config file and exit (0 when usable); the same as `lbd check-config FILE`' -r -F
complete -c lbd -n "__fish_lbd_needs_command" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_needs_command" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_needs_command" -l no-state -d 'Neither read nor write a state file: every start begins from the config file'
complete -c lbd -n "__fish_lbd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lbd -n "__fish_lbd_needs_command" -s V -l version -d 'Print version'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "decap" -d 'Real-server side: strip the director\'s tunnel headers (IPIP, IPv6 in IP, GRE, and GUE to --gue-port) on INTERFACE until stopped'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "schema" -d 'Print the JSON Schema of the config file'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "flush" -d 'Remove a data plane lbd left running (it keeps forwarding after lbd stops): detach its program and drop its maps and connections (and the FTP helper\'s interface, lbftp0)'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "check-config" -d 'Validate a config file and exit (0 when usable)'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "generate-docs" -d 'Write lbd\'s man pages, completions and config schema into DIR (what docs/ ships)'
complete -c lbd -n "__fish_lbd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l interface -d 'The interface the director\'s tunnelled packets arrive on' -r
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l gue-port -d 'Also strip GUE (ipvsadm --tun-type gue) sent to this UDP port' -r
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l xdp-mode -d 'XDP attach mode: native (driver) or generic (skb, slower)' -r -f -a "native\t''
generic\t''"
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_using_subcommand decap" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_using_subcommand decap" -s h -l help -d 'Print help'
complete -c lbd -n "__fish_lbd_using_subcommand schema" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_using_subcommand schema" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_using_subcommand schema" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_using_subcommand schema" -s h -l help -d 'Print help'
complete -c lbd -n "__fish_lbd_using_subcommand flush" -l pin-dir -d 'The pin directory (the config\'s `pin_dir`; default /sys/fs/bpf/lb)' -r -F
complete -c lbd -n "__fish_lbd_using_subcommand flush" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_using_subcommand flush" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_using_subcommand flush" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_using_subcommand flush" -s h -l help -d 'Print help'
complete -c lbd -n "__fish_lbd_using_subcommand check-config" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_using_subcommand check-config" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_using_subcommand check-config" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_using_subcommand check-config" -s h -l help -d 'Print help'
complete -c lbd -n "__fish_lbd_using_subcommand generate-docs" -l netns -d 'Run in this network namespace (/run/netns/NAME) but keep the host\'s bpffs' -r
complete -c lbd -n "__fish_lbd_using_subcommand generate-docs" -l log-format -d 'Log format on stderr: one line per event, as text or as a JSON object' -r -f -a "text\t''
json\t''"
complete -c lbd -n "__fish_lbd_using_subcommand generate-docs" -l log-level -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter such as "info,lb_daemon::health=debug"). Default: RUST_LOG, else info' -r
complete -c lbd -n "__fish_lbd_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "decap" -d 'Real-server side: strip the director\'s tunnel headers (IPIP, IPv6 in IP, GRE, and GUE to --gue-port) on INTERFACE until stopped'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "schema" -d 'Print the JSON Schema of the config file'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "flush" -d 'Remove a data plane lbd left running (it keeps forwarding after lbd stops): detach its program and drop its maps and connections (and the FTP helper\'s interface, lbftp0)'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "check-config" -d 'Validate a config file and exit (0 when usable)'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "generate-docs" -d 'Write lbd\'s man pages, completions and config schema into DIR (what docs/ ships)'
complete -c lbd -n "__fish_lbd_using_subcommand help; and not __fish_seen_subcommand_from decap schema flush check-config generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# Positional arguments of the verbs (values; no file names where none is taken).
complete -c lbd -n "__fish_lbd_using_subcommand decap" -f
complete -c lbd -n "__fish_lbd_using_subcommand schema" -f
complete -c lbd -n "__fish_lbd_using_subcommand flush" -f
complete -c lbd -n "__fish_lbd_using_subcommand help" -f
