-- Registries an admin added may be on any network; everyone else's reach only public addresses
-- and the networks the settings allow. Existing registries of admins keep working.
ALTER TABLE registries ADD COLUMN trusted BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE registries SET trusted = TRUE WHERE owner_id IN (SELECT id FROM users WHERE role = 'admin');
