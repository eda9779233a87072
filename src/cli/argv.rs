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
];

/// Long flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "rootless",
    "bundle",
    "pid-file",
    "console-socket",
    "pidfd-socket",
    "preserve-fds",
    "format",
];

pub fn normalize(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(prog) = iter.next() {
        out.push(prog);
    }
    let mut rest_positional = false;
    for a in iter {
        if rest_positional || a == "--" {
            rest_positional = rest_positional || a == "--";
            out.push(a);
            continue;
        }
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
    }
}
