//! Printing for the command line. `println!` panics when stdout is gone
//! (`hotline check-config | head` closes the pipe early) or cannot be written (a full
//! disk); [`outln!`](crate::outln) ends the program quietly on a closed pipe and with a
//! one-line error otherwise. Every CLI output goes through it (clippy's `print_stdout`
//! is denied in the binary and in `api::cli`).

use std::io::{ErrorKind, Write};

/// Writes one line to stdout. A closed pipe ends the process with status 0 (the reader
/// had what it wanted, as with `head`); any other write error ends it with status 1
/// after saying why on stderr.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        quit(&e);
    }
}

fn quit(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    // stderr may be gone too: never panic here either.
    let _ = writeln!(std::io::stderr(), "hotline: cannot write the output: {e}");
    std::process::exit(1);
}

/// `println!` for the command line without the panic: see [`console`](crate::console).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::console::line(format_args!($($arg)*))
    };
}
