//! `ps [--format table|json] ID [PS_ARGS...]`: the container's processes.
//! json is the array of host pids containerd reads; table runs ps(1) and
//! keeps the header and the container's lines, as runc does.

use super::Global;
use crate::cgroups::{Cgroup, Manager};
use crate::error::{Ctx, Error, Result};
use crate::state;

pub fn run(g: &Global, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    let st = state::load(&g.root, id)?;
    let mut pids = Cgroup::open(&st.cgroup).pids();
    pids.sort_unstable();
    pids.dedup();
    match format {
        "json" => {
            let out = serde_json::to_string(&pids)
                .map_err(|e| Error::invalid(format!("encode the pids: {e}")))?;
            super::emit(&(out + "\n"), "the pids")?;
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .ctx(|| "run ps")?;
            if !out.status.success() {
                return Err(Error::invalid(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| Error::invalid("ps output has no PID column"))?;
            let mut out = format!("{header}\n");
            for l in lines {
                if l.split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| pids.contains(&p))
                {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            super::emit(&out, "the process table")?;
        }
        f => {
            return Err(Error::invalid(format!(
                "invalid --format {f:?}: use table or json"
            )))
        }
    }
    Ok(0)
}
