//! `pause` / `resume`: freeze and thaw every process of a container
//! (v1 freezer.state, v2 cgroup.freeze).

use super::Global;
use crate::cgroups::{Cgroup, Manager};
use crate::container::{self, Status};
use crate::error::{Error, Result};
use crate::state;

pub fn run(g: &Global, id: &str, pause: bool) -> Result<i32> {
    let locked = state::lock(&g.root, id)?;
    let st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    match (container::status(&st, &locked.dir), pause) {
        (Status::Running, true) | (Status::Paused, false) => {
            Cgroup::open(&st.cgroup).freeze(pause)?
        }
        (Status::Paused, true) => {
            return Err(Error::Status(format!("container {id} is already paused")))
        }
        (Status::Running, false) => {
            return Err(Error::Status(format!("container {id} is not paused")))
        }
        (s, _) => {
            return Err(Error::Status(format!(
                "container {id} is not running ({})",
                s.as_str()
            )))
        }
    }
    Ok(0)
}
