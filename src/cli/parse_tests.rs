use super::{full, parse, parse_reduced, subcommand};
use crate::cli::command;

fn argv(s: &str) -> Vec<String> {
    std::iter::once("strata")
        .chain(s.split_whitespace())
        .map(String::from)
        .collect()
}

/// Every subcommand the full tree has is built alone with the same
/// arguments (and `layer` is the one left to the full tree).
#[test]
fn each_subcommand_as_the_full_tree_builds_it() {
    let full_tree = command();
    let mut names = Vec::new();
    for sub in full_tree.get_subcommands() {
        let name = sub.get_name();
        names.push(name.to_string());
        let Some(alone) = subcommand(name) else {
            assert_eq!(name, "layer", "{name} is not built alone");
            continue;
        };
        let a: Vec<String> = sub.get_arguments().map(|a| format!("{a:?}")).collect();
        let b: Vec<String> = alone.get_arguments().map(|a| format!("{a:?}")).collect();
        assert_eq!(a, b, "{name}: arguments differ");
        assert_eq!(
            sub.is_subcommand_required_set(),
            alone.is_subcommand_required_set()
        );
        assert_eq!(sub.get_subcommands().count(), 0, "{name}");
    }
    for extra in ["help", "layer", "nosuch"] {
        assert!(subcommand(extra).is_none(), "{extra}");
    }
    assert_eq!(names.len(), 18);
    // A doc comment on an argument struct would become the about text.
    assert_eq!(
        full_tree.get_about().map(|a| a.to_string()).as_deref(),
        Some("strata: an OCI container runtime")
    );
}

/// The reduced parse gives what the full one gives, or falls back to it:
/// the same result or the same error text.
#[test]
fn same_result_as_the_full_tree() {
    let cases = [
        "",
        "--version",
        "-v",
        "--debug",
        "--help",
        "-h",
        "help",
        "help exec",
        "exec --help",
        "state",
        "state x",
        "state x y",
        "state --root /r x",
        "--root /r state x",
        "--root state x",
        "--root=/r --log /l --log-format json --debug state x",
        "--rootless list",
        "--rootless true list",
        "--rootless=false list -q",
        "--systemd-cgroup create -b /b --pid-file /p x",
        "create --bundle /b --console-socket /s --preserve-fds 2 --no-pivot x",
        "run -d -b /b --keep x",
        "run --detach=true x",
        "start x",
        "kill x KILL",
        "kill -a x 9",
        "kill x -9",
        "delete -f x",
        "delete --force x",
        "list",
        "list -f json",
        "list --format json --quiet",
        "list -x",
        "pause x",
        "resume x",
        "ps x",
        "ps -f json x -- -ef",
        "ps x -ef",
        "update --memory 1m --cpu-quota 10 x",
        "update -r - x",
        "update --blkio-weight notanumber x",
        "checkpoint --image-path /i --leave-running x",
        "restore -b /b -d --image-path /i x",
        "events --stats x",
        "events --interval 1s x",
        "exec x",
        "exec x /bin/true",
        "exec -t -e A=1 -e B=2 -u 1:1 -c CAP_KILL x sh -c true",
        "exec --preserve-fds 3 -g 5 -g 6 x ls -l --all",
        "exec x -- ls",
        "exec --bogus x",
        "exec",
        "spec",
        "spec -b /b",
        "--rootless spec",
        "features",
        "features x",
        "layer diff x /d",
        "layer unpack /t /d",
        "layer",
        "nosuch",
        "nosuch x",
        "--root /r nosuch",
        "stat x",
        "-- state x",
        "state -- x",
    ];
    for case in cases {
        let fast = parse(argv(case));
        let slow = full(argv(case));
        match (fast, slow) {
            (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{case}"),
            (Err(a), Err(b)) => {
                assert_eq!(a.kind(), b.kind(), "{case}");
                assert_eq!(a.render().to_string(), b.render().to_string(), "{case}");
            }
            (a, b) => panic!("{case}: reduced {a:?}, full {b:?}"),
        }
    }
}

/// The calls a caller makes often take the reduced path.
#[test]
fn common_calls_take_the_reduced_path() {
    for case in [
        "--version",
        "--root /r state x",
        "--root /r --log /l --log-format json exec -p /p --pid-file /f -d x",
        "--root /r --systemd-cgroup create -b /b x",
        "--root /r start x",
        "--root /r kill x 9",
        "--root /r delete -f x",
        "--root /r run -b /b x",
        "--root /r list -q",
        "--root /r exec x /bin/true",
        "-root /r ps x",
    ] {
        let args = crate::cli::argv::normalize(argv(case));
        assert!(parse_reduced(&args).is_some(), "{case}");
    }
}
