//! `lbctl director drain|undrain|status`: the director as a whole leaves the routers'
//! ECMP (its VIPs withdrawn from BIRD) or joins it again. Its connections are not touched:
//! the data plane keeps forwarding whatever still reaches it.

use lb_model::api::{DirectorAction, Response};

use crate::context::Context;

/// `Op::Director`: answered once BIRD has been told (the view carries BIRD's error if
/// telling it failed; lbd keeps trying).
pub(super) fn director_op(d: &mut Context, action: DirectorAction) -> Response {
    let Context {
        announcer, plan, ..
    } = d;
    match action {
        DirectorAction::Drain => announcer.set_drained(true),
        DirectorAction::Undrain => announcer.set_drained(false),
        DirectorAction::Status => {}
    }
    if action != DirectorAction::Status {
        announcer.step(plan, true);
    }
    Response::Director(announcer.view(plan))
}
