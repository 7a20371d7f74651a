//! Values offered for some of ipvsadm's options (schedulers, scheduler flags, tunnel types,
//! from `crate::words`), as clap lists them in completions, help and man pages. The options
//! still take any text: ipvsadm's checks and messages decide what a value means
//! (`crate::ipvsadm`), and lbd decides whether it is supported, so a word clap does not list
//! gets ipvsadm's message, not clap's.

use clap::{
    Arg, Command, Error,
    builder::{PossibleValue, TypedValueParser},
};

/// Any text, with `values` offered (and listed in help and man pages).
#[derive(Clone, Copy, Debug)]
pub struct Offered(pub &'static [(&'static str, &'static str)]);

impl TypedValueParser for Offered {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.0
                .iter()
                .map(|(name, help)| PossibleValue::new(*name).help(*help)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::cli::Cli;

    #[test]
    fn offered_values_are_listed_but_not_enforced() {
        let cmd = Cli::command();
        let s = cmd
            .get_arguments()
            .find(|a| a.get_id() == "scheduler")
            .unwrap();
        let names: Vec<String> = s
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(names.len(), crate::words::SCHEDULERS.len());
        assert_eq!(names[0], "rr");
        // A name clap does not offer still parses: ipvsadm's checks and lbd judge it.
        let cli = Cli::parse_args(&["-A", "-t", "10.0.0.1:80", "-s", "frob"]).unwrap();
        assert_eq!(cli.service.scheduler.as_deref(), Some("frob"));
    }
}
