//! Migrations: an empty database gets every table, a second run does nothing, and the
//! migrations round-trip (up, down, up).

use crate::common::{backend, open_db, TestDb};

#[test]
fn migrations_run_once_and_round_trip() {
    let test_db = TestDb::new(backend());
    let db = open_db(test_db.url());
    let first = db.migrate().unwrap();
    assert!(first >= 2, "expected every migration to run, ran {first}");
    assert_eq!(db.migrate().unwrap(), 0, "a second start runs nothing");

    let mut conn = db.get().unwrap();
    assert_eq!(gatehouse::store::clients::count(&mut conn).unwrap(), 0);
    gatehouse::db::revert_all_migrations(&mut conn).unwrap();
    assert!(gatehouse::store::clients::count(&mut conn).is_err(), "tables are gone after reverting");
    drop(conn);
    assert_eq!(db.migrate().unwrap(), first);
}

#[test]
fn concurrent_migrations_do_not_race() {
    let test_db = TestDb::new(backend());
    let url = test_db.url().to_string();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || open_db(&url).migrate())
        })
        .collect();
    let ran: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap().expect("migrate")).collect();
    let total: usize = ran.iter().sum();
    assert_eq!(total, ran.iter().copied().max().unwrap(), "exactly one runner applied the migrations: {ran:?}");
}
