//! `Database` conformance: every scenario on SQLite and on a fresh PostgreSQL database.

use std::{ops::Deref, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use partypic::{
    db::{
        ClaimedJob, CommentRecord, Database, DbError, EventRecord, GallerySocial, GuestRecord,
        GuestbookRecord, HostRecord, JobLockKey, JobRecord, JobState, PhotoQuery, PhotoRecord,
        PhotoStatus, ReactionCount, ThumbStatus, VariantKeys, postgres::PostgresDatabase,
        sqlite::SqliteDatabase,
    },
    domain::{
        comment::CommentStatus,
        missions::{Mission, MissionList},
    },
};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::external;

/// A migrated, empty database; keeps the SQLite file's directory alive.
pub struct TestDb {
    db: Box<dyn Database>,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestDb {
    type Target = dyn Database;

    fn deref(&self) -> &Self::Target {
        self.db.as_ref()
    }
}

pub async fn sqlite() -> TestDb {
    let (db, dir) = open_sqlite().await;
    TestDb {
        db: Box::new(db),
        _dir: Some(dir),
    }
}

async fn open_sqlite() -> (SqliteDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDatabase::open(&dir.path().join("partypic.db"), 4, Duration::from_secs(5))
        .await
        .expect("open SQLite");
    db.migrate().await.expect("migrate SQLite");
    (db, dir)
}

pub async fn postgres() -> TestDb {
    TestDb {
        db: Box::new(open_postgres().await),
        _dir: None,
    }
}

/// A new database per test on the server PARTYPIC_TEST_DATABASE_URL points at (scripts/test
/// drops them afterwards).
async fn open_postgres() -> PostgresDatabase {
    let base = external::var(external::DATABASE_URL);
    let base = base.trim_end_matches('/');
    let name = format!("partypic_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{base}/postgres"))
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create database");
    let db = PostgresDatabase::connect(&format!("{base}/{name}"), 4, Duration::from_secs(5))
        .expect("connect");
    db.migrate().await.expect("migrate PostgreSQL");
    db
}

/// Runs each scenario as two tests, on SQLite and on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(&*$crate::database::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                if $crate::external::skip_without($crate::external::POSTGRES) {
                    return;
                }
                super::$name(&*$crate::database::postgres().await).await
            }
        }
    )*};
}

on_both_databases!(
    a_second_host_with_the_same_email_is_a_conflict,
    events_keep_settings_missions_and_microsecond_timestamps,
    events_of_a_host_come_newest_first_with_their_counts,
    updating_an_event_returns_it_and_unknown_events_are_none,
    touching_a_guest_moves_last_seen_and_the_online_count,
    heartbeats_written_together_only_move_last_seen_forward,
    the_guests_of_an_event_come_in_the_order_they_joined,
    inserting_the_same_key_twice_returns_the_stored_photo,
    an_insert_that_conflicts_on_id_returns_the_photo_with_the_same_content,
    the_same_content_under_a_new_key_is_a_second_photo,
    a_photo_of_an_unknown_event_is_a_missing_reference,
    photos_show_what_the_query_allows_newest_first,
    photos_page_with_before_and_limit,
    approving_and_deleting_return_the_photo,
    variants_are_recorded_and_pending_photos_have_jobs_claimed_newest_first,
    a_job_belongs_to_its_claimer_until_its_lease_expires,
    counts_cover_active_events_guests_online_and_photos,
    join_codes_are_unique_and_a_taken_one_is_drawn_again,
    admin_overviews_stored_bytes_and_deleting_an_event,
    a_reset_token_is_used_once_and_only_before_it_expires,
    one_reaction_per_person_and_photo_that_goes_with_its_photo_and_event,
    personal_gallery_viewers_are_reactors_and_guests_with_photos_only_they_see,
    comments_are_listed_oldest_first_counted_approved_and_go_with_their_photo_and_event,
    guestbook_messages_are_listed_oldest_first_lose_a_deleted_photo_and_go_with_their_event,
);

async fn join_codes_are_unique_and_a_taken_one_is_drawn_again(db: &dyn Database) {
    use partypic::{app::events::insert_with_join_code, db::DbError, domain::join_code::JoinCode};
    let code = |c: &str| JoinCode::parse(c).expect("a code");
    let host = host();
    db.insert_host(&host).await.expect("host");
    let mut scripted = ["K7QM2XDP", "K7QM2XDP", "K7QM2XDP", "ABCD2345"].into_iter();
    let mut first = event(host.id, at(0));
    insert_with_join_code(db, &mut first, || code(scripted.next().expect("a code")))
        .await
        .expect("first event");
    assert_eq!(first.join_code.as_deref(), Some("K7QM2XDP"));
    // Two draws collide with the first event's code; the third is free.
    let mut second = event(host.id, at(1));
    insert_with_join_code(db, &mut second, || code(scripted.next().expect("a code")))
        .await
        .expect("second event");
    assert_eq!(second.join_code.as_deref(), Some("ABCD2345"));
    let mut taken = event(host.id, at(2));
    taken.join_code = Some("ABCD2345".into());
    assert!(matches!(
        db.insert_event(&taken).await,
        Err(DbError::Conflict(_))
    ));
    // A code that is always taken gives up after a few draws.
    let mut unlucky = event(host.id, at(3));
    let mut draws = 0;
    let result = insert_with_join_code(db, &mut unlucky, || {
        draws += 1;
        code("ABCD2345")
    })
    .await;
    assert!(matches!(result, Err(DbError::Conflict(_))));
    assert_eq!(draws, 5);
    assert!(db.event(unlucky.id).await.expect("read").is_none());

    let found = db
        .event_by_join_code("K7QM2XDP")
        .await
        .expect("lookup")
        .expect("the first event");
    assert_eq!(found.id, first.id);
    assert_eq!(found.join_code.as_deref(), Some("K7QM2XDP"));
    assert!(
        db.event_by_join_code("ZZZZ2222")
            .await
            .expect("lookup")
            .is_none()
    );
}

/// A fixed instant with microseconds, so truncation to milliseconds or seconds would show.
fn at(offset_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_780_000_000_123_457).expect("valid")
        + TimeDelta::seconds(offset_secs)
}

fn host() -> HostRecord {
    let id = Uuid::new_v4();
    HostRecord {
        id,
        email: format!("Host-{id}@Example.com"),
        email_normalized: format!("host-{id}@example.com"),
        username: "Host".into(),
        password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA".into(),
        created_at: at(0),
    }
}

fn event(host_id: Uuid, created_at: DateTime<Utc>) -> EventRecord {
    EventRecord {
        id: Uuid::new_v4(),
        host_id,
        settings: json!({"name": "Wedding"}),
        missions: MissionList::defaults(),
        created_at,
        ends_at: created_at + TimeDelta::days(2),
        join_code: None,
    }
}

fn guest(event_id: Uuid, name: &str, seen: DateTime<Utc>) -> GuestRecord {
    GuestRecord {
        id: Uuid::new_v4(),
        event_id,
        name: name.into(),
        created_at: seen,
        last_seen: seen,
    }
}

fn photo(event_id: Uuid, created_at: DateTime<Utc>) -> PhotoRecord {
    let id = Uuid::new_v4();
    PhotoRecord {
        id,
        event_id,
        uploader_name: "Ben".into(),
        original_filename: "IMG_0001.jpg".into(),
        object_key: format!("{event_id}/{id}.jpg"),
        bucket: "local".into(),
        mimetype: "image/jpeg".into(),
        filesize_bytes: 123_456,
        mission_id: None,
        created_at,
        guest_id: None,
        status: PhotoStatus::Approved,
        content_hash: None,
        thumb_key: None,
        display_key: None,
        thumb_status: ThumbStatus::Pending,
        duration_ms: None,
    }
}

/// A host with one event.
async fn an_event(db: &dyn Database) -> EventRecord {
    let host = host();
    db.insert_host(&host).await.expect("insert host");
    let event = event(host.id, at(0));
    db.insert_event(&event).await.expect("insert event");
    event
}

fn ids(photos: &[PhotoRecord]) -> Vec<Uuid> {
    photos.iter().map(|p| p.id).collect()
}

fn assert_same_photo(actual: &PhotoRecord, expected: &PhotoRecord) {
    assert_eq!(
        serde_json::to_value(actual).expect("json"),
        serde_json::to_value(expected).expect("json")
    );
}

async fn a_second_host_with_the_same_email_is_a_conflict(db: &dyn Database) {
    let first = host();
    db.insert_host(&first).await.expect("insert");
    let second = HostRecord {
        id: Uuid::new_v4(),
        email: first.email.to_uppercase(),
        ..first.clone()
    };
    let err = db.insert_host(&second).await.expect_err("duplicate email");
    assert!(matches!(err, DbError::Conflict(_)), "{err:?}");

    let stored = db
        .host_by_email(&first.email_normalized)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.email, first.email);
    assert_eq!(stored.username, first.username);
    assert_eq!(stored.password_hash, first.password_hash);
    assert_eq!(stored.created_at, first.created_at);
    assert!(db.host(second.id).await.expect("query").is_none());
    assert_eq!(
        db.host(first.id).await.expect("query").map(|h| h.id),
        Some(first.id)
    );
    assert!(
        db.host_by_email("nobody@example.com")
            .await
            .expect("query")
            .is_none()
    );
}

async fn events_keep_settings_missions_and_microsecond_timestamps(db: &dyn Database) {
    let host = host();
    db.insert_host(&host).await.expect("insert host");
    let mut event = event(host.id, at(0));
    event.settings = json!({
        "name": "Anna & Ben",
        "nested": {"list": [1, 2.5, "drei", null, true], "unicode": "Grüße 🎉"},
    });
    event.missions = MissionList {
        data: vec![Mission {
            id: "m-1".into(),
            description: "A toast: glasses up!".into(),
        }],
    };
    event.ends_at = at(3600) + TimeDelta::microseconds(1);
    db.insert_event(&event).await.expect("insert");

    let stored = db.event(event.id).await.expect("query").expect("stored");
    assert_eq!(stored.id, event.id);
    assert_eq!(stored.host_id, host.id);
    assert_eq!(stored.settings, event.settings);
    assert_eq!(stored.missions, event.missions);
    assert_eq!(stored.created_at, event.created_at);
    assert_eq!(stored.ends_at, event.ends_at);
    assert!(db.event(Uuid::new_v4()).await.expect("query").is_none());
}

async fn events_of_a_host_come_newest_first_with_their_counts(db: &dyn Database) {
    let host = host();
    db.insert_host(&host).await.expect("insert host");
    let older = event(host.id, at(0));
    let newer = event(host.id, at(60));
    for event in [&older, &newer] {
        db.insert_event(event).await.expect("insert event");
    }
    db.insert_guest(&guest(older.id, "Ann", at(1)))
        .await
        .expect("guest");
    for second in 0..2 {
        db.insert_photo(&photo(older.id, at(second)))
            .await
            .expect("photo");
    }
    let other = self::host();
    db.insert_host(&other).await.expect("other host");
    db.insert_event(&event(other.id, at(0)))
        .await
        .expect("other event");

    let summaries = db.events_of_host(host.id).await.expect("query");
    let listed: Vec<_> = summaries
        .iter()
        .map(|s| (s.event.id, s.picture_count, s.guest_count))
        .collect();
    assert_eq!(listed, [(newer.id, 0, 0), (older.id, 2, 1)]);
    assert_eq!(summaries[1].event.settings, older.settings);
}

async fn updating_an_event_returns_it_and_unknown_events_are_none(db: &dyn Database) {
    let event = an_event(db).await;
    let missions = MissionList {
        data: vec![Mission {
            id: "7".into(),
            description: "Shoes on the dance floor".into(),
        }],
    };
    let updated = db
        .update_missions(event.id, &missions)
        .await
        .expect("update")
        .expect("known event");
    assert_eq!(updated.missions, missions);
    assert_eq!(updated.settings, event.settings);

    let settings = json!({"name": "Renamed", "preApproval": true});
    let ends_at = at(7200);
    let updated = db
        .update_settings(event.id, &settings, ends_at)
        .await
        .expect("update")
        .expect("known event");
    assert_eq!(updated.settings, settings);
    assert_eq!(updated.ends_at, ends_at);
    assert_eq!(updated.missions, missions);
    let stored = db.event(event.id).await.expect("query").expect("stored");
    assert_eq!(
        (stored.settings, stored.ends_at),
        (settings.clone(), ends_at)
    );

    let unknown = Uuid::new_v4();
    assert!(
        db.update_missions(unknown, &missions)
            .await
            .expect("update")
            .is_none()
    );
    assert!(
        db.update_settings(unknown, &settings, ends_at)
            .await
            .expect("update")
            .is_none()
    );
}

async fn touching_a_guest_moves_last_seen_and_the_online_count(db: &dyn Database) {
    let event = an_event(db).await;
    let ann = guest(event.id, "Ann", at(0));
    let ben = guest(event.id, "Ben", at(0));
    for guest in [&ann, &ben] {
        db.insert_guest(guest).await.expect("insert guest");
    }
    let stored = db.guest(ann.id).await.expect("query").expect("stored");
    assert_eq!((stored.name.as_str(), stored.event_id), ("Ann", event.id));
    assert_eq!(stored.created_at, ann.created_at);
    assert_eq!(db.guests_online(event.id, at(-1)).await.expect("count"), 2);
    // Strictly after `since`: a guest last seen exactly then is not online.
    assert_eq!(db.guests_online(event.id, at(0)).await.expect("count"), 0);

    let later = at(30) + TimeDelta::microseconds(1);
    let touched = db
        .touch_guest(ann.id, later)
        .await
        .expect("touch")
        .expect("known guest");
    assert_eq!(touched.last_seen, later);
    assert_eq!(touched.created_at, ann.created_at);
    assert_eq!(
        db.guest(ann.id).await.expect("query").map(|g| g.last_seen),
        Some(later)
    );
    assert_eq!(db.guests_online(event.id, at(30)).await.expect("count"), 1);
    assert_eq!(
        db.guests_online(Uuid::new_v4(), at(-1))
            .await
            .expect("count"),
        0
    );
    assert!(
        db.touch_guest(Uuid::new_v4(), later)
            .await
            .expect("touch")
            .is_none()
    );
    assert!(db.guest(Uuid::new_v4()).await.expect("query").is_none());
}

async fn heartbeats_written_together_only_move_last_seen_forward(db: &dyn Database) {
    let event = an_event(db).await;
    let ann = guest(event.id, "Ann", at(0));
    let ben = guest(event.id, "Ben", at(40));
    for guest in [&ann, &ben] {
        db.insert_guest(guest).await.expect("insert guest");
    }
    db.touch_guests(&[]).await.expect("nothing to write");
    // Ann moves forward; Ben was seen later on another replica and keeps that; an unknown
    // guest (an event deleted meanwhile) is skipped.
    let seen = [(ann.id, at(30)), (ben.id, at(20)), (Uuid::new_v4(), at(30))];
    db.touch_guests(&seen).await.expect("touch");
    let last_seen =
        |id| async move { db.guest(id).await.expect("query").expect("guest").last_seen };
    assert_eq!(last_seen(ann.id).await, at(30));
    assert_eq!(last_seen(ben.id).await, at(40));
    assert_eq!(db.guests_online(event.id, at(25)).await.expect("count"), 2);

    // Many guests in one statement.
    let many: Vec<_> = (0..300)
        .map(|i| guest(event.id, &format!("G{i}"), at(0)))
        .collect();
    for guest in &many {
        db.insert_guest(guest).await.expect("insert guest");
    }
    let beats: Vec<_> = many.iter().map(|g| (g.id, at(50))).collect();
    db.touch_guests(&beats).await.expect("touch many");
    assert_eq!(
        db.guests_online(event.id, at(45)).await.expect("count"),
        300
    );
}

async fn the_guests_of_an_event_come_in_the_order_they_joined(db: &dyn Database) {
    let event = an_event(db).await;
    let other = an_event(db).await;
    let cem = guest(event.id, "Cem", at(20));
    let ann = guest(event.id, "Ann", at(0));
    let ben = guest(event.id, "Ben", at(10));
    for guest in [&cem, &ann, &ben, &guest(other.id, "Dora", at(5))] {
        db.insert_guest(guest).await.expect("insert guest");
    }
    db.touch_guest(ann.id, at(60)).await.expect("touch");
    let guests = db.guests_of_event(event.id).await.expect("query");
    let names: Vec<&str> = guests.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Ann", "Ben", "Cem"]);
    assert_eq!(guests[0].id, ann.id);
    assert_eq!(guests[0].event_id, event.id);
    assert_eq!((guests[0].created_at, guests[0].last_seen), (at(0), at(60)));
    assert!(
        db.guests_of_event(Uuid::new_v4())
            .await
            .expect("query")
            .is_empty()
    );
}

async fn inserting_the_same_key_twice_returns_the_stored_photo(db: &dyn Database) {
    let event = an_event(db).await;
    let mut first = photo(event.id, at(1));
    first.mission_id = Some("3".into());
    first.content_hash = Some("a".repeat(64));
    let stored = db.insert_photo(&first).await.expect("insert");
    assert_same_photo(&stored, &first);

    let again = PhotoRecord {
        id: Uuid::new_v4(),
        uploader_name: "Someone else".into(),
        ..first.clone()
    };
    let returned = db.insert_photo(&again).await.expect("insert again");
    assert_same_photo(&returned, &first);
    assert!(db.photo(again.id).await.expect("query").is_none());
    assert_same_photo(
        &db.photo_by_key(&first.object_key)
            .await
            .expect("query")
            .expect("stored"),
        &first,
    );
    assert!(
        db.photo_by_key("no/such.jpg")
            .await
            .expect("query")
            .is_none()
    );
}

/// The race recovery's second step: a row with the same id already holds this content.
async fn an_insert_that_conflicts_on_id_returns_the_photo_with_the_same_content(db: &dyn Database) {
    let event = an_event(db).await;
    let mut first = photo(event.id, at(1));
    first.content_hash = Some("b".repeat(64));
    db.insert_photo(&first).await.expect("insert");

    let retry = PhotoRecord {
        object_key: format!("{}/{}.jpg", event.id, Uuid::new_v4()),
        ..first.clone()
    };
    let returned = db.insert_photo(&retry).await.expect("insert retry");
    assert_same_photo(&returned, &first);
    assert!(
        db.photo_by_key(&retry.object_key)
            .await
            .expect("query")
            .is_none()
    );
}

/// Since migration 3 the content hash is not unique: only uploads naming their guest are
/// deduplicated, and that check happens before the insert.
async fn the_same_content_under_a_new_key_is_a_second_photo(db: &dyn Database) {
    let event = an_event(db).await;
    let hash = "c".repeat(64);
    let mut first = photo(event.id, at(1));
    first.content_hash = Some(hash.clone());
    let mut second = photo(event.id, at(2));
    second.content_hash = Some(hash.clone());
    db.insert_photo(&first).await.expect("insert");
    let stored = db.insert_photo(&second).await.expect("insert second");
    assert_eq!(stored.id, second.id);

    let found = db
        .photo_by_hash(event.id, &hash)
        .await
        .expect("query")
        .expect("found");
    assert!([first.id, second.id].contains(&found.id));
    assert!(
        db.photo_by_hash(Uuid::new_v4(), &hash)
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        db.photo_by_hash(event.id, &"d".repeat(64))
            .await
            .expect("query")
            .is_none()
    );
}

async fn a_photo_of_an_unknown_event_is_a_missing_reference(db: &dyn Database) {
    let err = db
        .insert_photo(&photo(Uuid::new_v4(), at(0)))
        .await
        .expect_err("no such event");
    assert!(matches!(err, DbError::MissingReference(_)), "{err:?}");
}

async fn photos_show_what_the_query_allows_newest_first(db: &dyn Database) {
    let event = an_event(db).await;
    let ann = guest(event.id, "Ann", at(0));
    let ben = guest(event.id, "Ben", at(0));
    for guest in [&ann, &ben] {
        db.insert_guest(guest).await.expect("guest");
    }
    let by = |guest: &GuestRecord, second, status| PhotoRecord {
        guest_id: Some(guest.id),
        status,
        ..photo(event.id, at(second))
    };
    let ann_approved = by(&ann, 1, PhotoStatus::Approved);
    let ann_pending = by(&ann, 2, PhotoStatus::Pending);
    let ben_approved = by(&ben, 3, PhotoStatus::Approved);
    let ben_pending = by(&ben, 4, PhotoStatus::Pending);
    let anonymous = photo(event.id, at(5));
    for photo in [
        &ann_approved,
        &ann_pending,
        &ben_approved,
        &ben_pending,
        &anonymous,
    ] {
        db.insert_photo(photo).await.expect("insert");
    }
    // Another event's photos never show.
    let other = an_event(db).await;
    db.insert_photo(&photo(other.id, at(6)))
        .await
        .expect("insert");

    let query = |everything, approved_visible, viewer| PhotoQuery {
        everything,
        approved_visible,
        viewer,
        before: None,
        limit: None,
        uploader: None,
        order: partypic::db::PhotoOrder::Newest,
    };
    let shown = async |query| ids(&db.photos(event.id, query).await.expect("query"));
    assert_eq!(
        shown(query(true, false, None)).await,
        [
            anonymous.id,
            ben_pending.id,
            ben_approved.id,
            ann_pending.id,
            ann_approved.id
        ]
    );
    assert_eq!(
        shown(query(false, true, Some(ann.id))).await,
        [
            anonymous.id,
            ben_approved.id,
            ann_pending.id,
            ann_approved.id
        ]
    );
    assert_eq!(
        shown(query(false, true, None)).await,
        [anonymous.id, ben_approved.id, ann_approved.id]
    );
    // Reveal mode: approved photos of others hidden, a guest still sees their own.
    assert_eq!(
        shown(query(false, false, Some(ben.id))).await,
        [ben_pending.id, ben_approved.id]
    );
    assert!(shown(query(false, false, None)).await.is_empty());

    let all = db
        .photos(event.id, query(true, false, None))
        .await
        .expect("query");
    assert_same_photo(&all[3], &ann_pending);
    assert_eq!(
        db.count_guest_photos(event.id, ann.id)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        db.count_guest_photos(other.id, ann.id)
            .await
            .expect("count"),
        0
    );
}

async fn photos_page_with_before_and_limit(db: &dyn Database) {
    let event = an_event(db).await;
    // Two photos share a timestamp: the id breaks the tie, so pages neither skip nor repeat.
    let mut photos: Vec<PhotoRecord> = [1, 2, 2, 3, 4]
        .into_iter()
        .map(|second| photo(event.id, at(second)))
        .collect();
    for photo in &photos {
        db.insert_photo(photo).await.expect("insert");
    }
    photos.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
    let newest_first = ids(&photos);

    let page = |before: Option<&PhotoRecord>, limit| PhotoQuery {
        everything: true,
        approved_visible: true,
        viewer: None,
        before: before.map(|p| (p.created_at, p.id)),
        limit,
        uploader: None,
        order: partypic::db::PhotoOrder::Newest,
    };
    let mut seen = Vec::new();
    let mut last: Option<PhotoRecord> = None;
    loop {
        let batch = db
            .photos(event.id, page(last.as_ref(), Some(2)))
            .await
            .expect("page");
        assert!(batch.len() <= 2);
        let Some(tail) = batch.last().cloned() else {
            break;
        };
        seen.extend(ids(&batch));
        last = Some(tail);
    }
    assert_eq!(seen, newest_first);
    assert_eq!(
        ids(&db
            .photos(event.id, page(Some(&photos[2]), None))
            .await
            .expect("query")),
        newest_first[3..]
    );
    assert_eq!(
        ids(&db
            .photos(event.id, page(None, Some(1)))
            .await
            .expect("query")),
        newest_first[..1]
    );
}

async fn approving_and_deleting_return_the_photo(db: &dyn Database) {
    let event = an_event(db).await;
    let pending = PhotoRecord {
        status: PhotoStatus::Pending,
        ..photo(event.id, at(1))
    };
    db.insert_photo(&pending).await.expect("insert");

    let approved = db
        .approve_photo(pending.id)
        .await
        .expect("approve")
        .expect("known photo");
    assert_eq!(approved.status, PhotoStatus::Approved);
    assert_eq!(
        db.photo(pending.id).await.expect("query").map(|p| p.status),
        Some(PhotoStatus::Approved)
    );
    assert!(
        db.approve_photo(Uuid::new_v4())
            .await
            .expect("approve")
            .is_none()
    );

    let deleted = db
        .delete_photo(pending.id)
        .await
        .expect("delete")
        .expect("known photo");
    assert_same_photo(&deleted, &approved);
    assert!(db.photo(pending.id).await.expect("query").is_none());
    assert!(db.delete_photo(pending.id).await.expect("delete").is_none());
}

async fn variants_are_recorded_and_pending_photos_have_jobs_claimed_newest_first(
    db: &dyn Database,
) {
    let event = an_event(db).await;
    let photos: Vec<PhotoRecord> = (1..=4).map(|second| photo(event.id, at(second))).collect();
    for photo in &photos {
        db.insert_photo(photo).await.expect("insert");
    }
    let thumb = format!("{}/{}.thumb.jpg", event.id, photos[1].id);
    let display = format!("{}/{}.display.jpg", event.id, photos[1].id);
    let keys = VariantKeys {
        thumb: &thumb,
        display: &display,
    };
    db.set_variants(photos[1].id, Some(keys), ThumbStatus::Ready)
        .await
        .expect("ready");
    db.set_variants(photos[2].id, None, ThumbStatus::Failed)
        .await
        .expect("failed");

    let ready = db
        .photo(photos[1].id)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(
        (ready.thumb_key, ready.display_key, ready.thumb_status),
        (Some(thumb), Some(display), ThumbStatus::Ready)
    );
    let failed = db
        .photo(photos[2].id)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(
        (failed.thumb_key, failed.display_key, failed.thumb_status),
        (None, None, ThumbStatus::Failed)
    );

    // Each photo inserted with variants pending got its job with it; claims take the newest
    // first, each job once.
    let now = at(10);
    let lease = now + TimeDelta::minutes(5);
    let photo_ids = |jobs: &[JobRecord]| jobs.iter().map(|j| j.photo_id).collect::<Vec<_>>();
    let first = claim(db, "a", now, lease, 3).await;
    assert_eq!(
        photo_ids(&first),
        [photos[3].id, photos[2].id, photos[1].id]
    );
    assert!(first.iter().all(|job| job.state == JobState::Running
        && job.attempts == 1
        && job.locked_by.as_deref() == Some("a")
        && job.lease_until == Some(lease)));
    let rest = claim(db, "b", now, lease, 10).await;
    assert_eq!(photo_ids(&rest), [photos[0].id]);
    assert!(claim(db, "b", now, lease, 10).await.is_empty());

    // Only the claimer records the outcome: the variants and the job's end together.
    let thumb = format!("{}/{}.thumb.jpg", event.id, photos[3].id);
    let display = format!("{}/{}.display.jpg", event.id, photos[3].id);
    let keys = VariantKeys {
        thumb: &thumb,
        display: &display,
    };
    assert!(
        db.complete_variants_job(first[0].id, "b", keys, now)
            .await
            .expect("complete")
            .is_none()
    );
    assert_eq!(
        db.photo(photos[3].id)
            .await
            .expect("query")
            .expect("stored")
            .thumb_status,
        ThumbStatus::Pending
    );
    let done = db
        .complete_variants_job(first[0].id, "a", keys, now)
        .await
        .expect("complete")
        .expect("held by a");
    assert_eq!(
        (
            done.id,
            done.thumb_key.as_deref(),
            done.display_key.as_deref(),
            done.thumb_status
        ),
        (
            photos[3].id,
            Some(thumb.as_str()),
            Some(display.as_str()),
            ThumbStatus::Ready
        )
    );
    assert_eq!(db.photo(photos[3].id).await.expect("query"), Some(done));
    let jobs = db.jobs_of_photo(photos[3].id).await.expect("jobs");
    assert_eq!(jobs[0].state, JobState::Done);
    assert!(
        db.complete_variants_job(first[0].id, "a", keys, now)
            .await
            .expect("complete")
            .is_none()
    );
    assert!(
        db.retry_job(first[1].id, "a", at(100), "store down", now)
            .await
            .expect("retry")
    );
    assert!(claim(db, "a", at(99), lease, 10).await.is_empty());
    let retried = claim(db, "b", at(100), lease, 10).await;
    assert_eq!(photo_ids(&retried), [photos[2].id]);
    assert_eq!(retried[0].attempts, 2);
    assert_eq!(retried[0].last_error.as_deref(), Some("store down"));

    // A final failure marks the photo's variants failed with it.
    assert!(
        db.fail_job(rest[0].id, "b", "cannot be decoded", now)
            .await
            .expect("fail")
    );
    let jobs = db.jobs_of_photo(photos[0].id).await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Failed);
    assert_eq!(jobs[0].last_error.as_deref(), Some("cannot be decoded"));
    let failed = db
        .photo(photos[0].id)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(failed.thumb_status, ThumbStatus::Failed);
    assert!(
        !db.fail_job(rest[0].id, "b", "again", now)
            .await
            .expect("fail")
    );
}

/// Claims jobs and checks that each came with its photo as stored.
async fn claim(
    db: &dyn Database,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Vec<JobRecord> {
    let claimed = db
        .claim_jobs(worker, now, lease_until, limit)
        .await
        .expect("claim");
    let mut jobs = Vec::with_capacity(claimed.len());
    for ClaimedJob { job, photo } in claimed {
        let stored = db.photo(job.photo_id).await.expect("query");
        assert_eq!(photo, stored, "a claimed job comes with its photo");
        jobs.push(job);
    }
    jobs
}

async fn a_job_belongs_to_its_claimer_until_its_lease_expires(db: &dyn Database) {
    let event = an_event(db).await;
    let picture = photo(event.id, at(1));
    db.insert_photo(&picture).await.expect("insert");
    let claimed = claim(db, "a", at(2), at(12), 1).await;
    assert_eq!(claimed.len(), 1);
    let job = claimed[0].id;
    assert!(claim(db, "b", at(11), at(21), 1).await.is_empty());
    assert!(db.extend_job_lease(job, "a", at(30)).await.expect("extend"));
    assert!(!db.extend_job_lease(job, "b", at(40)).await.expect("extend"));
    assert!(claim(db, "b", at(29), at(39), 1).await.is_empty());

    // "a" died: after its lease "b" takes the job over, and "a" can no longer finish it.
    let taken = claim(db, "b", at(31), at(41), 1).await;
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, taken[0].attempts), (job, 2));
    assert_eq!(taken[0].locked_by.as_deref(), Some("b"));
    let keys = VariantKeys {
        thumb: "t",
        display: "d",
    };
    let complete = |worker| db.complete_variants_job(job, worker, keys, at(32));
    assert!(complete("a").await.expect("complete").is_none());
    assert!(complete("b").await.expect("complete").is_some());
    assert!(claim(db, "a", at(99), at(109), 1).await.is_empty());

    // Deleting the photo deletes its jobs.
    db.delete_photo(picture.id).await.expect("delete");
    assert!(db.jobs_of_photo(picture.id).await.expect("jobs").is_empty());
}

async fn counts_cover_active_events_guests_online_and_photos(db: &dyn Database) {
    let now = at(0);
    let host = host();
    db.insert_host(&host).await.expect("host");
    let running = event(host.id, now - TimeDelta::hours(1));
    let ended = EventRecord {
        ends_at: now - TimeDelta::minutes(1),
        ..event(host.id, now - TimeDelta::days(3))
    };
    for event in [&running, &ended] {
        db.insert_event(event).await.expect("event");
    }
    db.insert_guest(&guest(running.id, "Ann", now - TimeDelta::seconds(10)))
        .await
        .expect("guest");
    db.insert_guest(&guest(ended.id, "Ben", now - TimeDelta::days(2)))
        .await
        .expect("guest");
    for event in [&running, &running, &ended] {
        db.insert_photo(&photo(event.id, now)).await.expect("photo");
    }

    let counts = db
        .counts(now, now - TimeDelta::minutes(5))
        .await
        .expect("counts");
    assert_eq!(
        (
            counts.active_sessions,
            counts.users_online,
            counts.photos_total
        ),
        (1, 1, 3)
    );
    db.ping().await.expect("ping");
}

/// Settings the database keeps but serde cannot read back (here a number beyond f64, which
/// jsonb stores exactly) leave the event readable, with empty settings.
#[tokio::test]
async fn unreadable_settings_read_as_empty_on_sqlite() {
    let (db, _dir) = open_sqlite().await;
    let event = an_event(&db).await;
    sqlx::query("UPDATE sessions SET settings = '{\"n\": 1e400}' WHERE id = $1")
        .bind(event.id.to_string())
        .execute(db.pool())
        .await
        .expect("update");
    assert_settings_read_as_empty(&db, &event).await;
}

#[tokio::test]
async fn unreadable_settings_read_as_empty_on_postgres() {
    if external::skip_without(external::POSTGRES) {
        return;
    }
    let db = open_postgres().await;
    let event = an_event(&db).await;
    sqlx::query("UPDATE sessions SET settings = '{\"n\": 1e400}'::jsonb WHERE id = $1")
        .bind(event.id)
        .execute(db.pool())
        .await
        .expect("update");
    assert_settings_read_as_empty(&db, &event).await;
}

async fn assert_settings_read_as_empty(db: &dyn Database, event: &EventRecord) {
    let stored = db.event(event.id).await.expect("query").expect("readable");
    assert_eq!(stored.settings, json!({}));
    assert_eq!(stored.missions, event.missions);
    let listed = db.events_of_host(event.host_id).await.expect("query");
    assert_eq!(listed[0].event.settings, json!({}));
}

async fn admin_overviews_stored_bytes_and_deleting_an_event(db: &dyn Database) {
    let event = an_event(db).await;
    let other = an_event(db).await;
    let first = photo(event.id, at(1));
    let second = photo(event.id, at(2));
    db.insert_photo(&first).await.expect("insert");
    db.insert_photo(&second).await.expect("insert");
    db.insert_photo(&photo(other.id, at(3)))
        .await
        .expect("insert");

    let hosts = db.hosts_overview().await.expect("hosts");
    let mine = hosts
        .iter()
        .find(|h| h.host.id == event.host_id)
        .expect("listed");
    assert_eq!(mine.event_count, 1);
    let events = db.events_overview().await.expect("events");
    let listed = events
        .iter()
        .find(|e| e.summary.event.id == event.id)
        .expect("listed");
    assert_eq!(listed.summary.picture_count, 2);
    assert_eq!(listed.stored_bytes, 2 * 123_456);
    assert!(listed.host_email.starts_with("Host-"));
    assert_eq!(
        db.event_stored_bytes(event.id).await.expect("bytes"),
        246_912
    );
    assert_eq!(
        db.host_stored_bytes(event.host_id).await.expect("bytes"),
        246_912
    );
    assert_eq!(
        db.event_stored_bytes(Uuid::new_v4()).await.expect("bytes"),
        0
    );

    // Both events end at at(0) + 2 days.
    let ended = db
        .events_ended_before(at(0) + TimeDelta::days(3), 10)
        .await
        .expect("ended");
    assert!(ended.contains(&event.id) && ended.contains(&other.id));
    assert!(
        db.events_ended_before(at(0), 10)
            .await
            .expect("ended")
            .is_empty()
    );

    let mut gone = db
        .delete_event_photos(event.id)
        .await
        .expect("delete photos");
    gone.sort_by_key(|p| p.created_at);
    assert_eq!(ids(&gone), vec![first.id, second.id]);
    assert_eq!(
        db.delete_event(event.id)
            .await
            .expect("delete")
            .map(|e| e.id),
        Some(event.id)
    );
    assert!(db.event(event.id).await.expect("read").is_none());
    assert!(db.delete_event(event.id).await.expect("delete").is_none());
    assert_eq!(
        db.event_stored_bytes(other.id).await.expect("bytes"),
        123_456
    );
    assert!(
        db.set_password_hash(event.host_id, "new")
            .await
            .expect("set")
    );
    assert!(
        !db.set_password_hash(Uuid::new_v4(), "new")
            .await
            .expect("set")
    );
}

async fn a_reset_token_is_used_once_and_only_before_it_expires(db: &dyn Database) {
    let host = host();
    db.insert_host(&host).await.expect("insert host");
    let expires = at(3600);
    db.insert_password_reset("hash-a", host.id, at(0), expires)
        .await
        .expect("insert");
    db.insert_password_reset("hash-b", host.id, at(0), expires)
        .await
        .expect("insert");
    assert_eq!(
        db.password_reset_host("hash-a", at(10))
            .await
            .expect("read"),
        Some(host.id)
    );
    assert_eq!(
        db.password_reset_host("hash-a", expires)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        db.use_password_reset("hash-a", expires).await.expect("use"),
        None
    );
    assert_eq!(
        db.use_password_reset("hash-a", at(10)).await.expect("use"),
        Some(host.id)
    );
    assert_eq!(
        db.use_password_reset("hash-a", at(11)).await.expect("use"),
        None
    );
    assert_eq!(
        db.password_reset_host("hash-a", at(11))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        db.use_password_reset("unknown", at(11)).await.expect("use"),
        None
    );
    assert_eq!(
        db.use_password_reset("hash-b", at(12)).await.expect("use"),
        Some(host.id)
    );
}

#[tokio::test]
async fn on_postgres_a_job_lock_is_held_by_one_replica_at_a_time() {
    if crate::external::skip_without(crate::external::POSTGRES) {
        return;
    }
    let db = postgres().await;
    let held = db
        .try_job_lock(JobLockKey::Retention)
        .await
        .expect("query")
        .expect("free");
    assert!(
        db.try_job_lock(JobLockKey::Retention)
            .await
            .expect("query")
            .is_none(),
        "a second caller gets no lock"
    );
    drop(held);
    assert!(
        partypic_eventually(|| async {
            db.try_job_lock(JobLockKey::Retention)
                .await
                .expect("query")
                .is_some()
        })
        .await,
        "the lock is free again once dropped"
    );
}

/// The dropped lock's rollback runs when its connection goes back to the pool: soon, not at once.
async fn partypic_eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn personal_gallery_viewers_are_reactors_and_guests_with_photos_only_they_see(
    db: &dyn Database,
) {
    let event = an_event(db).await;
    let [ann, ben, cid] = ["Ann", "Ben", "Cid"].map(|name| guest(event.id, name, at(0)));
    for guest in [&ann, &ben, &cid] {
        db.insert_guest(guest).await.expect("guest");
    }
    let viewers = async || {
        let mut ids = db.gallery_personal_viewers(event.id).await.expect("query");
        ids.sort();
        ids
    };
    assert!(viewers().await.is_empty(), "nobody yet");

    let by = |guest: &GuestRecord, second, status| PhotoRecord {
        guest_id: Some(guest.id),
        status,
        ..photo(event.id, at(second))
    };
    // Cid's approved photo is everybody's; Ann's pending one is hers (and the hosts').
    let cids = by(&cid, 1, PhotoStatus::Approved);
    let anns = by(&ann, 2, PhotoStatus::Pending);
    for photo in [&cids, &anns] {
        db.insert_photo(photo).await.expect("insert");
    }
    assert_eq!(viewers().await, vec![ann.id]);

    // Ben reacts (twice: still one viewer); a host reacts too.
    let host = Uuid::new_v4();
    for (reactor, reaction) in [(ben.id, "heart"), (ben.id, "wow"), (host, "party")] {
        db.set_reaction(cids.id, event.id, reactor, reaction, at(3))
            .await
            .expect("react");
    }
    db.set_reaction(anns.id, event.id, ben.id, "heart", at(4))
        .await
        .expect("react");
    let mut expected = vec![ann.id, ben.id, host];
    expected.sort();
    assert_eq!(viewers().await, expected);

    // Approved, Ann's photo is everybody's; another event's reactions never count.
    db.approve_photo(anns.id).await.expect("approve");
    let other = an_event(db).await;
    let elsewhere = photo(other.id, at(5));
    db.insert_photo(&elsewhere).await.expect("insert");
    db.set_reaction(elsewhere.id, other.id, cid.id, "wow", at(6))
        .await
        .expect("react");
    let mut expected = vec![ben.id, host];
    expected.sort();
    assert_eq!(viewers().await, expected);
}

async fn one_reaction_per_person_and_photo_that_goes_with_its_photo_and_event(db: &dyn Database) {
    let event = an_event(db).await;
    let (first, second) = (photo(event.id, at(1)), photo(event.id, at(2)));
    db.insert_photo(&first).await.expect("insert");
    db.insert_photo(&second).await.expect("insert");
    let (ada, ben) = (Uuid::new_v4(), Uuid::new_v4());
    db.set_reaction(first.id, event.id, ada, "heart", at(3))
        .await
        .expect("react");
    // Changing it replaces it: still one reaction of Ada's.
    db.set_reaction(first.id, event.id, ada, "party", at(4))
        .await
        .expect("change");
    db.set_reaction(first.id, event.id, ben, "party", at(5))
        .await
        .expect("react");
    db.set_reaction(second.id, event.id, ben, "wow", at(6))
        .await
        .expect("react");
    let mut counts = db.reaction_counts(event.id, None).await.expect("counts");
    counts.sort_by_key(|c| (c.photo_id == second.id, c.reaction.clone()));
    assert_eq!(
        counts,
        vec![
            ReactionCount {
                photo_id: first.id,
                reaction: "party".into(),
                count: 2
            },
            ReactionCount {
                photo_id: second.id,
                reaction: "wow".into(),
                count: 1
            },
        ]
    );
    let only_second = db
        .reaction_counts(event.id, Some(second.id))
        .await
        .expect("counts");
    assert_eq!(only_second.len(), 1);
    // The gallery reads the same counts, and one reactor's own reactions, in one go.
    let mut social = db
        .gallery_social(event.id, Some(ben), false)
        .await
        .expect("social");
    social
        .reactions
        .sort_by_key(|c| (c.photo_id == second.id, c.reaction.clone()));
    assert_eq!(social.reactions, counts);
    social.mine.sort_by_key(|(id, _)| *id == second.id);
    assert_eq!(
        social.mine,
        vec![
            (first.id, "party".to_owned()),
            (second.id, "wow".to_owned())
        ]
    );
    let anonymous = db
        .gallery_social(event.id, None, false)
        .await
        .expect("social");
    assert!(anonymous.mine.is_empty());
    assert_eq!(anonymous.reactions.len(), 2);

    assert!(db.delete_reaction(first.id, ada).await.expect("remove"));
    assert!(!db.delete_reaction(first.id, ada).await.expect("again"));
    assert!(
        matches!(
            db.set_reaction(Uuid::new_v4(), event.id, ada, "heart", at(7))
                .await,
            Err(DbError::MissingReference(_))
        ),
        "a reaction to an unknown photo is a missing reference"
    );

    db.delete_photo(first.id).await.expect("delete photo");
    let counts = db.reaction_counts(event.id, None).await.expect("counts");
    assert_eq!(
        counts.len(),
        1,
        "the deleted photo's reactions went with it"
    );
    db.delete_event(event.id).await.expect("delete event");
    assert_eq!(
        db.gallery_social(event.id, Some(ben), true)
            .await
            .expect("social"),
        GallerySocial::default()
    );
}

fn comment(
    photo: &PhotoRecord,
    author_id: Uuid,
    status: CommentStatus,
    at: DateTime<Utc>,
) -> CommentRecord {
    CommentRecord {
        id: Uuid::new_v4(),
        photo_id: photo.id,
        event_id: photo.event_id,
        author_id,
        author_name: "Ada".into(),
        text: "<b>schön</b> 🎉".into(),
        status,
        created_at: at,
    }
}

async fn comments_are_listed_oldest_first_counted_approved_and_go_with_their_photo_and_event(
    db: &dyn Database,
) {
    let event = an_event(db).await;
    let (first, second) = (photo(event.id, at(1)), photo(event.id, at(2)));
    db.insert_photo(&first).await.expect("insert");
    db.insert_photo(&second).await.expect("insert");
    let (ada, ben) = (Uuid::new_v4(), Uuid::new_v4());
    let later = comment(&first, ben, CommentStatus::Pending, at(4));
    let earlier = comment(&first, ada, CommentStatus::Approved, at(3));
    let on_second = comment(&second, ada, CommentStatus::Approved, at(5));
    for c in [&later, &earlier, &on_second] {
        db.insert_comment(c).await.expect("insert comment");
    }
    assert_eq!(
        db.photo_comments(first.id).await.expect("list"),
        vec![earlier.clone(), later.clone()],
        "oldest first, text and status as written"
    );
    assert_eq!(
        db.comment(later.id).await.expect("one"),
        Some(later.clone())
    );
    let comment_counts = |with_pending| async move {
        let social = db
            .gallery_social(event.id, None, with_pending)
            .await
            .expect("counts");
        assert!(social.reactions.is_empty() && social.mine.is_empty());
        let mut counts = social.comments;
        counts.sort_by_key(|(id, _)| *id == second.id);
        counts
    };
    assert_eq!(
        comment_counts(false).await,
        vec![(first.id, 1), (second.id, 1)]
    );
    assert_eq!(
        comment_counts(true).await,
        vec![(first.id, 2), (second.id, 1)]
    );

    let approved = db.approve_comment(later.id).await.expect("approve");
    assert_eq!(approved.map(|c| c.status), Some(CommentStatus::Approved));
    assert_eq!(
        db.approve_comment(Uuid::new_v4()).await.expect("unknown"),
        None
    );
    assert_eq!(
        db.delete_comment(earlier.id)
            .await
            .expect("delete")
            .map(|c| c.id),
        Some(earlier.id)
    );
    assert_eq!(db.delete_comment(earlier.id).await.expect("again"), None);
    let mut orphan = comment(&first, ada, CommentStatus::Approved, at(6));
    orphan.photo_id = Uuid::new_v4();
    assert!(
        matches!(
            db.insert_comment(&orphan).await,
            Err(DbError::MissingReference(_))
        ),
        "a comment on an unknown photo is a missing reference"
    );

    db.delete_photo(first.id).await.expect("delete photo");
    assert_eq!(db.comment(later.id).await.expect("gone"), None);
    assert_eq!(
        comment_counts(true).await,
        vec![(second.id, 1)],
        "the deleted photo's comments went with it"
    );
    db.delete_event(event.id).await.expect("delete event");
    assert_eq!(db.comment(on_second.id).await.expect("gone"), None);
}

fn message(
    event: &EventRecord,
    photo: Option<&PhotoRecord>,
    status: CommentStatus,
    at: DateTime<Utc>,
) -> GuestbookRecord {
    GuestbookRecord {
        id: Uuid::new_v4(),
        event_id: event.id,
        author_id: Uuid::new_v4(),
        author_name: "Ada".into(),
        text: "<b>Alles Gute!</b>\nzweite Zeile 🎉".into(),
        photo_id: photo.map(|p| p.id),
        status,
        created_at: at,
    }
}

async fn guestbook_messages_are_listed_oldest_first_lose_a_deleted_photo_and_go_with_their_event(
    db: &dyn Database,
) {
    let event = an_event(db).await;
    let other = an_event(db).await;
    let picture = photo(event.id, at(1));
    db.insert_photo(&picture).await.expect("insert");
    let later = message(&event, None, CommentStatus::Pending, at(4));
    let earlier = message(&event, Some(&picture), CommentStatus::Approved, at(3));
    let elsewhere = message(&other, None, CommentStatus::Approved, at(2));
    for m in [&later, &earlier, &elsewhere] {
        db.insert_guestbook_message(m)
            .await
            .expect("insert message");
    }
    assert_eq!(
        db.guestbook_messages(event.id).await.expect("list"),
        vec![earlier.clone(), later.clone()],
        "oldest first, text, photo and status as written"
    );
    assert_eq!(
        db.guestbook_message(later.id).await.expect("one"),
        Some(later.clone())
    );
    let approved = db
        .approve_guestbook_message(later.id)
        .await
        .expect("approve");
    assert_eq!(approved.map(|m| m.status), Some(CommentStatus::Approved));
    assert_eq!(
        db.approve_guestbook_message(Uuid::new_v4())
            .await
            .expect("unknown"),
        None
    );
    let mut orphan = message(&event, Some(&picture), CommentStatus::Approved, at(5));
    orphan.photo_id = Some(Uuid::new_v4());
    assert!(
        matches!(
            db.insert_guestbook_message(&orphan).await,
            Err(DbError::MissingReference(_))
        ),
        "a message with an unknown photo is a missing reference"
    );

    db.delete_photo(picture.id).await.expect("delete photo");
    assert_eq!(
        db.guestbook_message(earlier.id)
            .await
            .expect("kept")
            .map(|m| m.photo_id),
        Some(None),
        "the message stays, without its photo"
    );
    assert_eq!(
        db.delete_guestbook_message(earlier.id)
            .await
            .expect("delete")
            .map(|m| m.id),
        Some(earlier.id)
    );
    assert_eq!(
        db.delete_guestbook_message(earlier.id)
            .await
            .expect("again"),
        None
    );
    db.delete_event(event.id).await.expect("delete event");
    assert_eq!(db.guestbook_message(later.id).await.expect("gone"), None);
    assert_eq!(
        db.guestbook_messages(other.id).await.expect("other"),
        vec![elsewhere],
        "another event's guestbook is untouched"
    );
}
