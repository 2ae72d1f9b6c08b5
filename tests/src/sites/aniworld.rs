use std::sync::Arc;

use poem::{Endpoint, Route};

use crate::FixtureState;

pub fn routes(_state: Arc<FixtureState>) -> impl Endpoint {
    Route::new()
}
