//! Integration tests: the real binary against a real sshd on loopback.

mod support;

mod relay;
