//! runc's CLI library accepts `-flag` for long flags and `--flag=false`
//! for booleans; clap does not. Normalising argv first keeps callers that
//! were written against runc working (e.g. containerd's `-no-subreaper`).

/// Long flags that take no value.
const BOOL_FLAGS: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "all",
    "force",
    "detach",
    "keep",
    "quiet",
    "no-pivot",
    "no-new-keyring",
    "version",
    "help",
    "tty",
    "stats",
    "no-new-privs",
    "no-subreaper",
];

/// Short flags that take a value.
const SHORT_VALUE: &[&str] = &["b", "p", "e", "u", "g", "c", "f"];

/// Long flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "root",
    "layer-store",
    "log",
    "log-format",
    "rootless",
    "bundle",
    "pid-file",
    "console-socket",
    "pidfd-socket",
    "preserve-fds",
    "format",
    "process",
    "cwd",
    "env",
    "user",
    "additional-gids",
    "cap",
    "apparmor",
    "process-label",
    "resources",
    "interval",
    "memory",
    "memory-reservation",
    "memory-swap",
    "cpu-shares",
    "cpu-quota",
    "cpu-period",
    "cpuset-cpus",
    "cpuset-mems",
    "pids-limit",
    "blkio-weight",
];

pub fn normalize(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(prog) = iter.next() {
        out.push(prog);
    }
    let mut rest_positional = false;
    // `exec ID CMD...`: everything after the id is the command, verbatim.
    let (mut command, mut positionals, mut takes_value) = (None::<String>, 0, false);
    for a in iter {
        if rest_positional || a == "--" {
            rest_positional = rest_positional || a == "--";
            out.push(a);
            continue;
        }
        if !a.starts_with('-') && !takes_value {
            if command.is_none() {
                command = Some(a.clone());
            } else {
                positionals += 1;
                if command.as_deref() == Some("exec") && positionals == 1 {
                    rest_positional = true;
                }
            }
        }
        let name = a.trim_start_matches('-');
        takes_value = a.starts_with('-')
            && !a.contains('=')
            && (VALUE_FLAGS.contains(&name) || SHORT_VALUE.contains(&name));
        // `-bundle` -> `--bundle` (but `-b`, `-d` stay short flags).
        let a = match a.strip_prefix('-') {
            Some(body) if !body.starts_with('-') && body.len() > 1 => {
                let name = body.split('=').next().unwrap_or(body);
                if BOOL_FLAGS.contains(&name) || VALUE_FLAGS.contains(&name) {
                    format!("--{body}")
                } else {
                    a
                }
            }
            _ => a,
        };
        // `--force=true` -> `--force`; `--force=false` -> dropped.
        if let Some((name, val)) = a.strip_prefix("--").and_then(|b| b.split_once('=')) {
            if BOOL_FLAGS.contains(&name) {
                match val {
                    "true" | "1" => out.push(format!("--{name}")),
                    "false" | "0" => {}
                    _ => out.push(a),
                }
                continue;
            }
        }
        out.push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(v: &[&str]) -> Vec<String> {
        normalize(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn runc_forms() {
        assert_eq!(
            n(&["s", "-root", "/r", "create", "-bundle=/b", "x"]),
            ["s", "--root", "/r", "create", "--bundle=/b", "x"]
        );
        assert_eq!(
            n(&["s", "delete", "--force=false", "x"]),
            ["s", "delete", "x"]
        );
        assert_eq!(
            n(&["s", "delete", "--force=true", "x"]),
            ["s", "delete", "--force", "x"]
        );
        assert_eq!(
            n(&["s", "run", "-d", "-b", "/b", "x"]),
            ["s", "run", "-d", "-b", "/b", "x"]
        );
        assert_eq!(
            n(&["s", "--rootless=false", "list"]),
            ["s", "--rootless=false", "list"]
        );
        assert_eq!(n(&["s", "kill", "x", "-9"]), ["s", "kill", "x", "-9"]);
        assert_eq!(
            n(&["s", "exec", "-e", "A=1", "x", "ls", "-user"]),
            ["s", "exec", "-e", "A=1", "x", "ls", "-user"]
        );
        assert_eq!(
            n(&["s", "-root", "/r", "exec", "-tty", "x", "sh"]),
            ["s", "--root", "/r", "exec", "--tty", "x", "sh"]
        );
    }
}
