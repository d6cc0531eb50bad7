-- Courses, their students, attendance sessions and check-ins.
CREATE TABLE courses (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    join_code  TEXT NOT NULL UNIQUE,
    teacher_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE TABLE course_students (
    course_id TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, user_id)
);

-- Codes are derived from `secret` and the time step, so nothing runs per attendance session.
-- Times are Unix milliseconds.
CREATE TABLE attendance_sessions (
    id        TEXT PRIMARY KEY,
    course_id TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    secret    TEXT NOT NULL,
    period_s  BIGINT NOT NULL,
    opens_at  BIGINT NOT NULL,
    closes_at BIGINT NOT NULL
);
CREATE INDEX attendance_sessions_course ON attendance_sessions (course_id, closes_at);

CREATE TABLE checkins (
    attendance_id TEXT NOT NULL REFERENCES attendance_sessions (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at            BIGINT NOT NULL,
    PRIMARY KEY (attendance_id, user_id)
);
