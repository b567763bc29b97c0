-- The default tier (the one a user gets when none is given) is a property of a tier, not a name:
-- renaming it keeps it the default, and it cannot be deleted while it is the default.
ALTER TABLE tiers ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;

-- "Basic" was the default by name; a database where it was renamed keeps its oldest tier.
UPDATE tiers SET is_default = 1
WHERE id = coalesce((SELECT id FROM tiers WHERE name = 'Basic'), (SELECT min(id) FROM tiers));

-- At most one default: making another tier the default clears the flag first (one transaction).
CREATE UNIQUE INDEX tiers_one_default ON tiers(is_default) WHERE is_default = 1;
