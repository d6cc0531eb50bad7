-- Work a course's teacher hands out, and the workspace each student does it in.
-- Times are Unix seconds.
CREATE TABLE assignments (
    id           TEXT PRIMARY KEY,
    course_id    TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    instructions TEXT NOT NULL,
    due_at       BIGINT,
    accept_late  BOOLEAN NOT NULL,
    -- JSON: path (relative to the assignment's folder) to starter text.
    files        TEXT NOT NULL,
    -- JSON {command, files, show_students}, or NULL: what runs on each submission.
    checking     TEXT,
    -- The assignment's folder in the workspace, fixed when it is made.
    folder       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX assignments_course ON assignments (course_id, created_at);

-- A student does every assignment of one template in one workspace, a folder each, so that
-- many assignments take few workspaces of the quota.
CREATE TABLE assignment_workspaces (
    owner_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    PRIMARY KEY (owner_id, template_id)
);
