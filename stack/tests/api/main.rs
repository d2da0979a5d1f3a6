//! The stack's integration tests, one binary: the three services wired together in-process,
//! and the real `bird-stack` binary (its traces too).

mod binary;
mod traces;
mod whole_stack;

use serde_json::json;
use wiremock::ResponseTemplate;

/// Unsplash's answer with one photo, credited, whatever the query.
fn one_photo() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "results": [{
            "urls": { "full": "https://images.unsplash.com/p?w=200" },
            "links": { "html": "https://unsplash.com/photos/p" },
            "user": { "name": "Ada", "links": { "html": "https://unsplash.com/@ada" } }
        }]
    }))
}
