//! Several berth replicas on one PostgreSQL database: what one replica does, the others see.
//! These run on PostgreSQL in both suites (a shared database is what they are about).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::accounts::{open_with_ticket, ticket};
use crate::attendance::{check_in, course_with_students, open_attendance, watch};
use crate::helpers::{spawn_replicas, Frame, TEST_POSTGRES};

#[tokio::test]
async fn a_ticket_raced_by_two_replicas_is_redeemed_once() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    for _ in 0..10 {
        let ticket = ticket(a, &user.token).await;
        let (on_a, on_b) = tokio::join!(open_with_ticket(a, &ticket), open_with_ticket(b, &ticket));
        let opened = [&on_a, &on_b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(opened, 1, "a: {:?}, b: {:?}", on_a.err(), on_b.err());
        let refused = on_a.err().or(on_b.err()).unwrap();
        assert!(refused.contains("401"), "{refused}");
    }
}

#[tokio::test]
async fn a_logout_on_one_replica_closes_a_session_on_another_within_a_second() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    let mut on_b = b.ws(&user.token).await;
    let other = a.new_user().await;
    let mut others_on_b = b.ws(&other.token).await;

    let logout = a.post(
        "/api/v1/auth/logout",
        Some(&user.token),
        serde_json::json!({}),
    );
    let sent = Instant::now();
    assert_eq!(logout.await.status(), 204);
    match on_b.next_within(Duration::from_secs(1)).await {
        Some(Frame::Closed(reason)) => assert_eq!(reason.as_deref(), Some("token revoked")),
        other => panic!("the session on the other replica is still open: {other:?}"),
    }
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The token is refused by both, and nobody else's session was touched.
    assert_eq!(b.get("/api/v1/me", Some(&user.token)).await.status(), 401);
    others_on_b
        .send(serde_json::json!({"type": "ping", "t": 1}))
        .await;
    assert_eq!(others_on_b.next_json().await["type"], "pong");
}

/// The current code, as the teacher's screen shows it.
async fn code_on(screen: &mut crate::helpers::Ws) -> String {
    screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn check_ins_on_other_replicas_reach_the_teachers_screen_even_across_a_lost_listener() {
    let replicas = spawn_replicas(3).await;
    let (teacher, course, students) = course_with_students(&replicas[0], 24).await;
    let attendance = open_attendance(&replicas[0], &teacher, &course, 60).await;
    let mut screen = replicas[0].ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    let code = code_on(&mut screen).await;

    // Half the class checks in on the two other replicas at once.
    let (first_half, second_half) = students.split_at(12);
    let rush = first_half.iter().enumerate().map(|(i, student)| {
        let replica = &replicas[1 + i % 2];
        let (attendance, code) = (&attendance, &code);
        async move {
            let response = check_in(replica, student, attendance, code).await;
            assert_eq!(response.status(), 200);
            (student.username.clone(), Instant::now())
        }
    });
    let answered = futures_util::future::join_all(rush).await;
    let mut lags = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < answered.len() {
        let message = tokio::time::timeout(
            Duration::from_secs(3),
            screen.expect("attendance.checkin", 1),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {} check-ins reached the screen",
                seen.len(),
                answered.len()
            )
        });
        let name = message["username"].as_str().unwrap().to_string();
        let (_, at) = answered
            .iter()
            .find(|(n, _)| *n == name)
            .expect("one of the rush");
        lags.push(at.elapsed());
        assert!(seen.insert(name), "a check-in shown twice");
    }
    lags.sort();
    let slowest = *lags.last().unwrap();
    assert!(slowest < Duration::from_secs(1), "{lags:?}");

    // The screen's replica loses its listening connection; check-ins taken meanwhile still
    // reach it (its catch-up reads them).
    let database = replicas[0]
        .database
        .url()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let terminated = std::process::Command::new("psql")
        .arg(format!("{TEST_POSTGRES}/postgres"))
        .args(["-qtA", "-c"])
        .arg(format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{database}' AND application_name = 'berth-listener') AS t"
        ))
        .output()
        .unwrap();
    let count = String::from_utf8_lossy(&terminated.stdout)
        .trim()
        .to_string();
    assert_eq!(
        count, "3",
        "each replica listens on a connection of its own"
    );
    for student in second_half {
        let replica = &replicas[1];
        assert_eq!(
            check_in(replica, student, &attendance, &code)
                .await
                .status(),
            200
        );
    }
    for _ in second_half {
        let message = tokio::time::timeout(
            Duration::from_secs(3),
            screen.expect("attendance.checkin", 1),
        )
        .await
        .expect("a check-in taken while the listener was away was lost");
        let name = message["username"].as_str().unwrap().to_string();
        assert!(seen.insert(name), "a check-in shown twice");
    }
    let last: Value = replicas[2]
        .get(
            &format!("/api/v1/attendance/{attendance}/roster"),
            Some(&teacher.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["present"], 24, "{last}");
}
