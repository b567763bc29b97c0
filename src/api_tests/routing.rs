//! The route table: 404, 405 and the test hooks.

use super::*;

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = TestApp::new();
    assert_eq!(app.send(Request::new(Method::Get, "/nope")).status, 404);
    assert_eq!(
        app.send(Request::new(Method::Put, "/api/pictures")).status,
        405
    );
    assert_eq!(
        app.send(Request::new(Method::Get, "/__test/counts")).status,
        404,
        "test hooks are off by default"
    );
}
