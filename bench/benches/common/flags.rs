//! The command line of a bench: its flags one by one, the value a flag takes, and that value
//! parsed, every mistake reported through the bench's own usage function (which exits).

use std::str::FromStr;

pub struct Flags {
    args: std::vec::IntoIter<String>,
    usage: fn(&str) -> !,
}

impl Flags {
    /// The arguments after the program's name.
    pub fn new(args: Vec<String>, usage: fn(&str) -> !) -> Flags {
        Flags {
            args: args.into_iter(),
            usage,
        }
    }

    /// The next flag, if any.
    pub fn next_flag(&mut self) -> Option<String> {
        self.args.next()
    }

    /// The value that `flag` takes: the next argument.
    pub fn value(&mut self, flag: &str) -> String {
        let usage = self.usage;
        self.args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
    }

    /// The value that `flag` takes, parsed.
    pub fn num<T: FromStr>(&mut self, flag: &str) -> T {
        let v = self.value(flag);
        self.parse(flag, &v)
    }

    /// `v`, a value (or part of one) of `flag`, parsed.
    pub fn parse<T: FromStr>(&self, flag: &str, v: &str) -> T {
        v.parse()
            .unwrap_or_else(|_| (self.usage)(&format!("bad value `{v}` for {flag}")))
    }
}
