//! The requests to stop: SIGTERM, SIGINT and SIGHUP, watched from the
//! start, so that a request to stop while connecting or asking the key
//! server ends the run as well as one during the session: cleanly, with the
//! host's first request answered.

use std::io;

use async_signal::{Signal, Signals};
use smol::stream::StreamExt;

use crate::error::Error;

/// The signals that ask us to stop, as a stream.
pub struct StopRequests(Signals);

impl StopRequests {
    /// Installs the handlers; until then a signal would kill the process.
    pub fn install() -> Result<StopRequests, Error> {
        Signals::new([Signal::Term, Signal::Int, Signal::Hup])
            .map(StopRequests)
            .map_err(|source| Error::Internal {
                context: "cannot install signal handlers",
                source,
            })
    }

    /// The next request to stop, by name.
    pub async fn next(&mut self) -> &'static str {
        name(self.0.next().await)
    }
}

fn name(signal: Option<io::Result<Signal>>) -> &'static str {
    match signal {
        Some(Ok(Signal::Term)) => "SIGTERM",
        Some(Ok(Signal::Int)) => "SIGINT",
        Some(Ok(Signal::Hup)) => "SIGHUP",
        _ => "a signal",
    }
}
