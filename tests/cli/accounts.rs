//! Service accounts: create, list, show, update, disable/enable, delete/undelete/purge.

use crate::support::TestEnv;

#[test]
fn create_then_list_as_table_and_json() {
    let env = TestEnv::new();
    let created = env.create("ci-bot");
    assert_eq!(created["email"], "ci-bot@default.sa.local");
    let table = env.run(&["list"]).ok();
    assert!(table.stdout.contains("ci-bot"), "{table}");
    let list = env.json(&["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    for key in [
        "id",
        "org",
        "name",
        "description",
        "email",
        "status",
        "roles",
        "created_at",
        "created_by",
        "updated_at",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(list[0]["created_by"], "tester");
}
