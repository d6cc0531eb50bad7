use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, Frame, TestApp, TestUser, Ws};

/// A teacher with a course, and `students` students enrolled in it.
pub(crate) async fn course_with_students(
    app: &TestApp,
    students: usize,
) -> (TestUser, String, Vec<TestUser>) {
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let response = app
        .post(
            "/api/v1/courses",
            Some(&teacher.token),
            json!({"name": "Rust 101"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let course: Value = response.json().await.unwrap();
    let join_code = course["join_code"].as_str().unwrap();
    let mut enrolled = Vec::new();
    for _ in 0..students {
        let student = app.new_user().await;
        let joined = app
            .post(
                "/api/v1/courses/join",
                Some(&student.token),
                json!({"join_code": join_code}),
            )
            .await;
        assert_eq!(joined.status(), 200);
        enrolled.push(student);
    }
    (
        teacher,
        course["id"].as_str().unwrap().to_string(),
        enrolled,
    )
}

pub(crate) async fn open_attendance(
    app: &TestApp,
    teacher: &TestUser,
    course: &str,
    period_s: u64,
) -> String {
    let path = format!("/api/v1/courses/{course}/attendance");
    let response = app
        .post(
            &path,
            Some(&teacher.token),
            json!({"period_s": period_s, "duration_s": 120}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["period_s"], period_s);
    assert_eq!(body["open"], true);
    body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn watch(ws: &mut Ws, stream: u8, attendance: &str) {
    ws.send(json!({"type": "attendance.watch", "stream": stream, "attendance": attendance}))
        .await;
    ws.expect("started", stream).await;
}

pub(crate) async fn check_in(
    app: &TestApp,
    student: &TestUser,
    attendance: &str,
    code: &str,
) -> reqwest::Response {
    let path = format!("/api/v1/attendance/{attendance}/checkin");
    app.post(&path, Some(&student.token), json!({"code": code}))
        .await
}

#[tokio::test]
async fn the_teachers_screen_gets_a_new_code_every_period() {
    let app = spawn_app().await;
    let (teacher, course, _) = course_with_students(&app, 0).await;
    let attendance = open_attendance(&app, &teacher, &course, 2).await;
    let mut ws = app.ws(&teacher.token).await;
    watch(&mut ws, 1, &attendance).await;

    let mut codes = Vec::new();
    let mut arrivals = Vec::new();
    for _ in 0..3 {
        let message = ws.expect("attendance.code", 1).await;
        arrivals.push(Instant::now());
        let code = message["code"].as_str().unwrap().to_string();
        assert!(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "{code}"
        );
        assert!(message["expires_at"].as_str().unwrap().ends_with('Z'));
        codes.push(code);
    }
    assert_ne!(codes[1], codes[2], "the code rotates");
    let period = arrivals[2] - arrivals[1];
    assert!(
        period > Duration::from_millis(1700) && period < Duration::from_millis(2400),
        "codes arrived {period:?} apart for a 2 s period"
    );

    // A second screen of the same teacher shows the same code.
    let mut projector = app.ws(&teacher.token).await;
    watch(&mut projector, 4, &attendance).await;
    let shown = projector.expect("attendance.code", 4).await;
    let current = ws.expect("attendance.code", 1).await;
    let shown = shown["code"].as_str().unwrap();
    assert!(
        shown == current["code"] || shown == codes[2],
        "screens disagree"
    );
}

#[tokio::test]
async fn a_check_in_appears_on_the_teachers_stream() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 2).await;
    let attendance = open_attendance(&app, &teacher, &course, 5).await;
    let mut screen = app.ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    let code = screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string();

    let response = check_in(&app, &students[0], &attendance, &code).await;
    assert_eq!(response.status(), 200);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["first"], true);
    let seen = screen.expect("attendance.checkin", 1).await;
    assert_eq!(seen["username"], students[0].username.as_str());
    assert_eq!(seen["user_id"], students[0].id.as_str());
    assert_eq!(seen["count"], 1);
    assert_eq!(seen["at"], first["at"]);

    // Checking in again is accepted, keeps the first time, and adds no row.
    let again: Value = check_in(&app, &students[0], &attendance, &code)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["first"].clone(), again["at"].clone()),
        (json!(false), first["at"].clone())
    );

    // The second student checks in over their own WebSocket session.
    let mut phone = app.ws(&students[1].token).await;
    phone
        .send(json!({"type": "attendance.checkin", "attendance": attendance, "code": code}))
        .await;
    let answer = phone.next_json().await;
    assert_eq!(answer["type"], "attendance.checked_in");
    assert_eq!(answer["first"], true);
    let seen = screen.expect("attendance.checkin", 1).await;
    assert_eq!(
        (seen["username"].as_str(), seen["count"].as_i64()),
        (Some(students[1].username.as_str()), Some(2))
    );

    let roster: Value = app
        .get(
            &format!("/api/v1/attendance/{attendance}/roster"),
            Some(&teacher.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(roster["present"], 2);
}

#[tokio::test]
async fn the_previous_steps_code_is_accepted_an_older_one_is_not() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 2).await;
    // Steps long enough that a check-in sent as a code turns lands in the step it is meant for,
    // even on a busy machine.
    let attendance = open_attendance(&app, &teacher, &course, 5).await;
    let mut screen = app.ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    let old = screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string();

    screen.expect("attendance.code", 1).await; // the code turned once
    let late = check_in(&app, &students[0], &attendance, &old).await;
    assert_eq!(
        late.status(),
        200,
        "a code from the step before is still good"
    );

    screen.expect("attendance.code", 1).await; // and twice
    let too_late = check_in(&app, &students[1], &attendance, &old).await;
    assert_eq!(too_late.status(), 400);
    let body: Value = too_late.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wrong or expired"));
}

#[tokio::test]
async fn check_in_refusals_say_why() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 1).await;
    let attendance = open_attendance(&app, &teacher, &course, 5).await;
    let outsider = app.new_user().await;

    let not_enrolled = check_in(&app, &outsider, &attendance, "123456").await;
    assert_eq!(not_enrolled.status(), 403);
    let missing = check_in(&app, &students[0], "no-such-attendance", "123456").await;
    assert_eq!(missing.status(), 404);
    let wrong_type = app
        .post(
            &format!("/api/v1/attendance/{attendance}/checkin"),
            Some(&students[0].token),
            json!({"code": 123456}),
        )
        .await;
    assert_eq!(wrong_type.status(), 400);

    // Five wrong codes in a minute, then even a right one is refused for a while.
    for _ in 0..5 {
        assert_eq!(
            check_in(&app, &students[0], &attendance, "000000")
                .await
                .status(),
            400
        );
    }
    let throttled = check_in(&app, &students[0], &attendance, "000000").await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(
        throttled.json::<Value>().await.unwrap()["error"]["code"],
        "too_many"
    );

    // Only the teacher sees codes; students cannot watch, open or close.
    let mut ws = app.ws(&students[0].token).await;
    ws.send(json!({"type": "attendance.watch", "stream": 2, "attendance": attendance}))
        .await;
    assert_eq!(ws.expect("error", 2).await["code"], "forbidden");
    let s = Some(students[0].token.as_str());
    assert_eq!(
        app.post(
            &format!("/api/v1/attendance/{attendance}/close"),
            s,
            json!({})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/courses/{course}/attendance"),
            s,
            json!({})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post("/api/v1/courses", s, json!({"name": "mine"}))
            .await
            .status(),
        403
    );

    // One open attendance session per course.
    let t = Some(teacher.token.as_str());
    assert_eq!(
        app.post(
            &format!("/api/v1/courses/{course}/attendance"),
            t,
            json!({})
        )
        .await
        .status(),
        409
    );
    let bad_period = app
        .post(
            &format!("/api/v1/courses/{course}/attendance"),
            t,
            json!({"period_s": 1}),
        )
        .await;
    assert_eq!(bad_period.status(), 400);

    // Closed: check-ins are a conflict, and a new session can be opened.
    let closed: Value = app
        .post(
            &format!("/api/v1/attendance/{attendance}/close"),
            t,
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["open"], false);
    let newcomer = app.new_user().await;
    let join_code = {
        let courses: Value = app.get("/api/v1/courses", t).await.json().await.unwrap();
        courses[0]["join_code"].as_str().unwrap().to_string()
    };
    app.post(
        "/api/v1/courses/join",
        Some(&newcomer.token),
        json!({"join_code": join_code}),
    )
    .await;
    assert_eq!(
        check_in(&app, &newcomer, &attendance, "123456")
            .await
            .status(),
        409
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/courses/{course}/attendance"),
            t,
            json!({})
        )
        .await
        .status(),
        201
    );
}

#[tokio::test]
async fn the_code_timer_ends_with_the_teachers_socket_or_the_session() {
    let app = spawn_app().await;
    let (teacher, course, _) = course_with_students(&app, 0).await;
    let attendance = open_attendance(&app, &teacher, &course, 2).await;

    let mut screen = app.ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    screen.expect("attendance.code", 1).await;
    assert_eq!(app.sessions.live_streams(), 1);
    screen.abandon();
    let stopped = eventually(Duration::from_secs(2), || app.sessions.live_streams() == 0).await;
    assert!(stopped.is_some(), "the watch stream outlived its socket");

    // Closing the attendance session ends the stream with `end`.
    let mut screen = app.ws(&teacher.token).await;
    watch(&mut screen, 3, &attendance).await;
    screen.expect("attendance.code", 3).await;
    app.post(
        &format!("/api/v1/attendance/{attendance}/close"),
        Some(&teacher.token),
        json!({}),
    )
    .await;
    screen.expect("end", 3).await;
    assert_eq!(app.sessions.live_streams(), 0);
    // And nothing more arrives: no timer is left.
    match screen.next_within(Duration::from_millis(2500)).await {
        None => {}
        Some(Frame::Json(v)) => panic!("unexpected message after end: {v}"),
        Some(_) => panic!("unexpected frame after end"),
    }
}

#[tokio::test]
async fn the_roster_lists_present_and_absent_students_as_csv() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 3).await;
    let attendance = open_attendance(&app, &teacher, &course, 5).await;
    let mut screen = app.ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    let code = screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string();
    for student in &students[..2] {
        assert_eq!(
            check_in(&app, student, &attendance, &code).await.status(),
            200
        );
    }

    let response = app
        .get(
            &format!("/api/v1/attendance/{attendance}/roster?format=csv"),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "username,present,checked_in_at");
    assert_eq!(lines.len(), 4, "{csv}");
    for (i, student) in students.iter().enumerate() {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{},", student.username)))
            .expect("listed");
        if i < 2 {
            assert!(line.contains(",yes,20"), "{line}");
        } else {
            assert_eq!(*line, format!("{},no,", student.username));
        }
    }
    // Students of the course see neither roster nor codes.
    let forbidden = app
        .get(
            &format!("/api/v1/attendance/{attendance}/roster"),
            Some(&students[0].token),
        )
        .await;
    assert_eq!(forbidden.status(), 403);

    // The teacher removes a student: gone from the course list.
    let path = format!("/api/v1/courses/{course}/students/{}", students[2].id);
    assert_eq!(app.delete(&path, Some(&teacher.token)).await.status(), 204);
    let listed: Value = app
        .get(
            &format!("/api/v1/courses/{course}/students"),
            Some(&teacher.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let theirs: Value = app
        .get("/api/v1/courses", Some(&students[0].token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs[0]["role"], "student");
    assert!(theirs[0].get("join_code").is_none());
}

#[tokio::test]
async fn a_student_finds_the_open_attendance_session_of_their_course() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 1).await;
    let path = format!("/api/v1/courses/{course}/attendance");
    assert_eq!(app.get(&path, Some(&students[0].token)).await.status(), 404);
    let id = open_attendance(&app, &teacher, &course, 5).await;
    for user in [&students[0], &teacher] {
        let open: Value = app
            .get(&path, Some(&user.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(open["id"], id.as_str());
        assert!(
            open.get("secret").is_none(),
            "the secret stays on the server"
        );
    }
    let outsider = app.new_user().await;
    assert_eq!(app.get(&path, Some(&outsider.token)).await.status(), 403);
    app.post(
        &format!("/api/v1/attendance/{id}/close"),
        Some(&teacher.token),
        json!({}),
    )
    .await;
    assert_eq!(app.get(&path, Some(&students[0].token)).await.status(), 404);
}

#[tokio::test]
async fn a_courses_attendance_history_says_who_was_there_each_time() {
    let app = spawn_app().await;
    let (teacher, course, students) = course_with_students(&app, 2).await;
    let history = format!("/api/v1/courses/{course}/attendance/history");
    let empty: Value = app
        .get(&history, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty, json!([]));

    // Monday: both come. Tuesday: only the first.
    let mut sessions = Vec::new();
    for present in [2, 1] {
        let attendance = open_attendance(&app, &teacher, &course, 5).await;
        let mut screen = app.ws(&teacher.token).await;
        watch(&mut screen, 1, &attendance).await;
        let code = screen.expect("attendance.code", 1).await["code"]
            .as_str()
            .unwrap()
            .to_string();
        for student in &students[..present] {
            assert_eq!(
                check_in(&app, student, &attendance, &code).await.status(),
                200
            );
        }
        let closed = app
            .post(
                &format!("/api/v1/attendance/{attendance}/close"),
                Some(&teacher.token),
                json!({}),
            )
            .await;
        assert_eq!(closed.status(), 200);
        sessions.push(attendance);
        // Opened at different milliseconds, so that the order is the opening order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let seen: Value = app
        .get(&history, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0]["attendance"]["id"],
        sessions[1].as_str(),
        "latest first"
    );
    assert_eq!(seen[0]["attendance"]["open"], false);
    assert_eq!(
        (&seen[0]["present"], &seen[0]["enrolled"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(seen[0]["absent"], json!([students[1].username]));
    assert_eq!(seen[1]["present"], 2);
    assert_eq!(seen[1]["absent"], json!([]));

    // Its students and other teachers see none of it.
    let other = app.new_user_with_role(Role::Teacher).await;
    for user in [&students[0], &other] {
        assert_eq!(app.get(&history, Some(&user.token)).await.status(), 403);
    }
}
