//! Parsing that builds only the subcommand being run.
//!
//! Building clap's whole tree (twenty subcommands, the global flags copied
//! into each) and dropping it again was ~90% of the user-space instructions
//! of `strata state` (docs/benchmarks.md). So `parse` first tries a tree
//! with the root's flags and one subcommand, the one argv names. Whatever
//! that reduced parse does not accept (help, a bad flag, an unknown or
//! misread name) is parsed again with the full tree, so every help text and
//! error comes from the full tree, byte for byte.
//!
//! Why an accepted reduced parse equals the full one: the two trees differ
//! only in which subcommands exist, and the root takes no positionals. A
//! token the full tree reads as another subcommand is an error in the
//! reduced tree (so it falls back); once inside the named subcommand both
//! parse with the same `clap::Command`.

use super::{
    command, root, CheckpointArgs, Cli, CreateArgs, DeleteArgs, EventsArgs, ExecArgs, GlobalArgs,
    IdArgs, KillArgs, ListArgs, PsArgs, RestoreArgs, RunArgs, SpecArgs, UpdateArgs,
};
use clap::{Args, FromArgMatches};

/// Parse a normalised argv (see `argv::normalize`).
pub fn parse(args: Vec<String>) -> Result<Cli, clap::Error> {
    match parse_reduced(&args) {
        Some(cli) => Ok(cli),
        None => full(args),
    }
}

/// The reduced parse, `None` for anything it does not accept.
fn parse_reduced(args: &[String]) -> Option<Cli> {
    let mut cmd = reduced(subcommand_name(args))?;
    let mut m = cmd.try_get_matches_from_mut(args).ok()?;
    Cli::from_arg_matches_mut(&mut m).ok()
}

/// What clap's derived `Parser::try_parse_from` does.
pub(super) fn full(args: Vec<String>) -> Result<Cli, clap::Error> {
    let mut cmd = command();
    let mut m = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd))
}

/// The first token that is neither a flag nor a global flag's value. A
/// wrong guess costs only the fallback (see the module doc).
fn subcommand_name(args: &[String]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" | "--layer-store" | "--log" | "--log-format" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => return Some(s),
        }
    }
    None
}

/// The root with only the named subcommand (none for no name); `None` for a
/// name to leave to the full tree.
fn reduced(name: Option<&str>) -> Option<clap::Command> {
    let root = GlobalArgs::augment_args(root());
    match name {
        None => Some(root),
        Some(n) => Some(root.subcommand(subcommand(n)?)),
    }
}

/// One subcommand, built as the derived `Command` enum builds it (a unit
/// test compares the two); the about texts are left out, help never comes
/// from here. `layer` (nested subcommands) is left to the full tree.
pub(super) fn subcommand(name: &str) -> Option<clap::Command> {
    use clap::Command as C;
    Some(match name {
        "create" => CreateArgs::augment_args(C::new("create")),
        "start" => IdArgs::augment_args(C::new("start")),
        "state" => IdArgs::augment_args(C::new("state")),
        "kill" => KillArgs::augment_args(C::new("kill")),
        "delete" => DeleteArgs::augment_args(C::new("delete")),
        "run" => RunArgs::augment_args(C::new("run")),
        "list" => ListArgs::augment_args(C::new("list")),
        "pause" => IdArgs::augment_args(C::new("pause")),
        "resume" => IdArgs::augment_args(C::new("resume")),
        "ps" => PsArgs::augment_args(C::new("ps")),
        "update" => UpdateArgs::augment_args(C::new("update")),
        "checkpoint" => CheckpointArgs::augment_args(C::new("checkpoint")),
        "restore" => RestoreArgs::augment_args(C::new("restore")),
        "events" => EventsArgs::augment_args(C::new("events")),
        "exec" => ExecArgs::augment_args(C::new("exec")),
        "spec" => SpecArgs::augment_args(C::new("spec")),
        "features" => C::new("features"),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
