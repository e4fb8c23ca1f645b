-- sa schema version 4. Released migrations are never edited; add 0005_… instead.
-- Who holds a role (`sa role show`, `sa role list`, renaming and deleting a role) without
-- reading every grant: grants by role.
CREATE INDEX account_roles_role ON account_roles (role, account_id);
