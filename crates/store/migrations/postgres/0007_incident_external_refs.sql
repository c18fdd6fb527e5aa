-- A sender's own id for an incident (a GitHub issue: `github:owner/name#12`), so a redelivered
-- or later event finds the incident it opened instead of opening another.
ALTER TABLE incidents ADD COLUMN external_ref TEXT;
CREATE UNIQUE INDEX incidents_external_ref ON incidents (external_ref);
