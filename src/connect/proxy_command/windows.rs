//! Windows: a ProxyCommand is refused, naming what works instead.

use std::rc::Rc;

use crate::companions::Companions;
use crate::connect::stream::LocalStream;
use crate::error::Error;

/// Never made on Windows.
pub enum ProxyCommand {}

impl ProxyCommand {
    /// Refuses, since the command's stdin and stdout cannot be our socket.
    pub fn spawn(
        command: &str,
        _companions: &Rc<Companions>,
    ) -> Result<(ProxyCommand, LocalStream), Error> {
        Err(Error::ProxyCommand {
            command: command.to_string(),
            detail: "cannot run on Windows yet; a ProxyJump line reaches the server through a jump host instead".into(),
        })
    }

    pub async fn explain(&mut self, error: Error) -> Error {
        match *self {}
    }
}
