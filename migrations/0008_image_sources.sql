-- Which registry hosts with stored logins berth pulled images from, by the chain of the image's
-- layers: an image whose layers begin with such a chain (re-tagged, or built on top) is still
-- that registry's, and only those who may use its login may use it.
CREATE TABLE image_sources (
    chain       TEXT NOT NULL,
    host        TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (chain, host)
);
