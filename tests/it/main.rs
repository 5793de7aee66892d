//! End-to-end tests: one binary, each test starting the in-process emulator on an ephemeral
//! loopback port and talking to it over real HTTP (or running the real binary).

mod apply;
mod audit;
mod clears;
mod daemon;
mod deploy;
mod directory;
mod emulator;
mod emulator_cli;
mod executor;
mod exit_codes;
mod failures;
mod fixtures;
mod hardening;
mod harness;
mod injection;
mod json_output;
mod lag;
mod layering;
mod local_files;
mod mapping;
mod monitoring;
mod operator;
mod plan;
mod progress;
mod python_sdk;
mod quickstart;
mod quiet;
mod report_drift;
mod saved_plans;
mod scim_client;
mod secrets;
mod soak;
mod state;
mod trust;
mod tty;
