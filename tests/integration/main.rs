//! Integration tests: the real binary against a real sshd on loopback.

mod support;

mod auth;
mod bundle;
mod compat;
mod doctor;
mod endings;
mod hardening;
mod host_apps;
mod host_keys;
mod key_server;
mod macos;
mod peer;
mod proxies;
mod reconnect;
mod relay;
mod soak;
mod ssh_config;
mod static_builds;
mod windows;
